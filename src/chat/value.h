// Jinja runtime values with Python semantics: undefined, None, bool, int, float, str, list/tuple,
// insertion-ordered dict, callables and attribute objects (namespace, loop, cycler).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chat/runtime_error.h"

namespace autolm::jinja {

class Value;
class Interp;
using List = std::vector<Value>;

struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
};

using NativeFn = std::function<Value(Interp&, CallArgs&)>;

struct Function {
  std::string name;
  NativeFn fn;
};

// Python dict: keys compare with Python ==, iteration keeps insertion order.
class Dict {
 public:
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  const Value* find(const std::string& key) const { return find(std::string_view(key)); }
  const Value* find(const char* key) const { return find(std::string_view(key)); }
  void set(const Value& key, Value value);
  void append_unique(Value key, Value value);  // the caller knows the key is absent
  // Defined after Value: std::pair<Value, Value> needs the complete type (clang rejects it here).
  size_t size() const;
  bool empty() const;
  const std::vector<std::pair<Value, Value>>& items() const { return items_; }

 private:
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>()(s); }
  };
  // Position of each string key once the dict has kIndexFrom items: a JSON object with 100k
  // keys (a tool schema) looked up in a loop would otherwise be a scan per lookup (quadratic).
  static constexpr size_t kIndexFrom = 32;
  void index_last();

  std::vector<std::pair<Value, Value>> items_;
  std::unordered_map<std::string, size_t, KeyHash, std::equal_to<>> index_;
};

// An object with attributes (jinja2 Namespace, LoopContext, Cycler, Joiner).
class Object {
 public:
  virtual ~Object() = default;
  virtual std::string type_name() const = 0;
  virtual Value get_attr(const std::string& name);  // undefined when absent
  virtual std::string repr() const;
  // An iterator (a generator): yields its remaining items once, then nothing. Not iterable: nullopt.
  virtual bool iterable() const { return false; }
  virtual List take_items();  // defined in value.cc, where Value is complete (clang needs it)
  // Drops the values this object holds; the evaluator calls it on every object when a render ends,
  // oldest first, so reference cycles are broken and long chains are freed without deep recursion.
  virtual void clear_refs() {}
};

class Value {
 public:
  enum class Type : uint8_t { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kFunction, kObject };

  Value() = default;  // undefined
  Value(bool b) : type_(Type::kBool), b_(b) {}
  Value(int v) : type_(Type::kInt), i_(v) {}
  Value(int64_t v) : type_(Type::kInt), i_(v) {}
  Value(double v) : type_(Type::kFloat), f_(v) {}
  Value(std::string s) : type_(Type::kString) { set_string(std::move(s)); }
  Value(std::string_view s) : Value(std::string(s)) {}
  Value(const char* s) : Value(std::string(s)) {}

  static Value undefined(std::string message = "");
  static Value none();
  // markupsafe.Markup: a str that |safe and |escape return; +, %, format and its methods escape plain operands.
  static Value markup(std::string s);
  static Value list(List items, bool tuple = false);
  static Value dict(Dict d);
  // depth_below: nesting of the values the function holds (a bound method's receiver).
  static Value function(std::string name, NativeFn fn, uint32_t depth_below = 0);
  static Value object(std::shared_ptr<Object> obj);
  // Throws RuntimeError for JSON nested deeper than kMaxNesting.
  static Value from_json(const nlohmann::ordered_json& j, int depth = 0);
  // Lists and dicts nest at most this deep, so printing, comparing and freeing them cannot
  // exhaust the stack (Value::list/dict throw RuntimeError beyond it).
  static constexpr uint32_t kMaxNesting = 512;

  Type type() const { return type_; }
  bool is_undefined() const { return type_ == Type::kUndefined; }
  bool is_none() const { return type_ == Type::kNone; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_int() const { return type_ == Type::kInt; }  // int proper; bool is separate
  bool is_float() const { return type_ == Type::kFloat; }
  bool is_number() const { return type_ == Type::kInt || type_ == Type::kFloat || type_ == Type::kBool; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_markup() const { return type_ == Type::kString && markup_; }
  bool is_list() const { return type_ == Type::kList; }
  bool is_tuple() const { return type_ == Type::kList && tuple_; }
  bool is_dict() const { return type_ == Type::kDict; }
  bool is_function() const { return type_ == Type::kFunction; }
  bool is_object() const { return type_ == Type::kObject; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return type_ == Type::kBool ? (b_ ? 1 : 0) : i_; }  // bool or int
  double as_double() const { return type_ == Type::kFloat ? f_ : static_cast<double>(as_int()); }
  const std::string& str() const { return big_ ? *big_ : s_; }
  const List& list() const { return *list_; }
  const Dict& dict() const { return *dict_; }
  const Function& function() const { return *fn_; }
  const std::shared_ptr<Object>& object() const { return obj_; }
  const std::string& undefined_message() const { return s_; }
  bool same_object(const Value& other) const;  // Python `is`
  uint32_t depth() const { return depth_; }

  bool truthy() const;
  std::string to_str() const;  // Python str()
  std::string repr() const;    // Python repr()
  std::string type_name() const;  // Python type name: 'int', 'str', 'dict', 'NoneType'…

 private:
  // Long strings are shared between copies: a message copied into loop variables, lists and
  // scopes costs a pointer each, not its size again (a 10 MB message in a loop would otherwise
  // be copied per iteration and per list element).
  static constexpr size_t kShareFrom = 256;
  void set_string(std::string s) {
    if (s.size() >= kShareFrom) {
      count_built(s.size());  // the render's total (runtime_error.h)
      big_ = std::make_shared<const std::string>(std::move(s));
    } else {
      s_ = std::move(s);
    }
  }

  Type type_ = Type::kUndefined;
  bool tuple_ = false;
  bool markup_ = false;  // a str that is a markupsafe.Markup
  uint32_t depth_ = 0;  // nesting of lists/dicts below (and including) this value
  union {
    bool b_;
    int64_t i_ = 0;
    double f_;
  };
  std::string s_;  // short string value, or the message an undefined raises with
  std::shared_ptr<const std::string> big_;  // long string value
  std::shared_ptr<const List> list_;
  std::shared_ptr<const Dict> dict_;
  std::shared_ptr<const Function> fn_;
  std::shared_ptr<Object> obj_;
};

// Whether `j` nests arrays/objects deeper than `max_depth`, found without recursion, so a
// caller can refuse a 100k-deep message before copying it (copies of JSON recurse).
bool json_nested_deeper_than(const nlohmann::ordered_json& j, size_t max_depth);

// A Python iterator over items computed up front: the generators jinja2's map/select/reject/selectattr/
// rejectattr/unique/batch/slice/items filters return, or reversed(list). Iterating it consumes it; it is
// always true, has no len(), no subscript and is not JSON serializable, as in Python.
class Iterator : public Object {
 public:
  Iterator(List items, std::string type, std::string function)
      : items_(std::move(items)), type_(std::move(type)), function_(std::move(function)) {}
  std::string type_name() const override { return type_; }
  std::string repr() const override {
    return "<" + type_ + " object" + (function_.empty() ? "" : " " + function_) + " at 0x7f0000000000>";
  }
  bool iterable() const override { return true; }
  List take_items() override { return std::move(items_); }
  void clear_refs() override { items_.clear(); }

 private:
  List items_;
  std::string type_, function_;
};

inline size_t Dict::size() const { return items_.size(); }
inline bool Dict::empty() const { return items_.empty(); }

// Python semantics; these throw RuntimeError where Python raises TypeError.
bool py_eq(const Value& a, const Value& b);
int py_compare(const Value& a, const Value& b, const char* op);  // <0, 0, >0
bool py_contains(const Value& container, const Value& item);       // `item in container`
// Throws RuntimeError("unhashable type: 'list'") for keys Python cannot hash (lists, dicts, tuples holding them).
void check_hashable(const Value& key);
List py_iterate(const Value& v);                                    // list(v)
int64_t py_len(const Value& v);
// jinja2 "'x' is undefined" / "'dict object' has no attribute 'y'" style messages.
std::string object_type_repr(const Value& v);
// JSON value back from a template value (json.dumps's conversions); throws RuntimeError if not serializable.
nlohmann::ordered_json to_json(const Value& v);
// markupsafe.escape: a Markup stays as it is; anything else is str()-ed and HTML-escaped into a Markup.
Value markup_escape(const Value& v);
std::string html_escape(const std::string& s);

}  // namespace autolm::jinja
