// Value construction, printing (str/repr as CPython), equality, ordering, iteration and JSON conversion.
#include "chat/value.h"

#include <algorithm>
#include <cmath>

#include "chat/pystr.h"
#include "chat/runtime_error.h"

namespace autolm::jinja {

const Value* Dict::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.str()));
  for (const auto& [k, v] : items_)
    if (py_eq(k, key)) return &v;
  return nullptr;
}

const Value* Dict::find(std::string_view key) const {
  if (items_.size() >= kIndexFrom) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &items_[it->second].second;
  }
  for (const auto& [k, v] : items_)
    if (k.is_string() && k.str() == key) return &v;
  return nullptr;
}

// Keeps index_ covering every string key once the dict is big enough (strings never equal
// other types, so string lookups need nothing else).
void Dict::index_last() {
  if (items_.size() < kIndexFrom) return;
  if (items_.size() == kIndexFrom) {
    for (size_t i = 0; i < items_.size(); ++i)
      if (items_[i].first.is_string()) index_.emplace(items_[i].first.str(), i);
    return;
  }
  if (items_.back().first.is_string()) index_.emplace(items_.back().first.str(), items_.size() - 1);
}

void Dict::set(const Value& key, Value value) {
  if (key.is_string() && items_.size() >= kIndexFrom) {
    auto it = index_.find(std::string_view(key.str()));
    if (it != index_.end()) {
      items_[it->second].second = std::move(value);
      return;
    }
  } else {
    for (auto& [k, v] : items_)
      if (py_eq(k, key)) {
        v = std::move(value);
        return;
      }
  }
  items_.emplace_back(key, std::move(value));
  index_last();
}

void Dict::append_unique(Value key, Value value) {
  items_.emplace_back(std::move(key), std::move(value));
  index_last();
}

Value Object::get_attr(const std::string& name) {
  return Value::undefined("'" + type_name() + " object' has no attribute '" + name + "'");
}
std::string Object::repr() const { return "<" + type_name() + " object>"; }
List Object::take_items() { return {}; }

Value Value::undefined(std::string message) {
  Value v;
  v.s_ = std::move(message);
  return v;
}
Value Value::markup(std::string s) {
  Value v(std::move(s));
  v.markup_ = true;
  return v;
}

std::string html_escape(const std::string& s) {
  size_t grown = 0;  // each escaped char grows to 4-5 bytes: the size is checked first
  for (char ch : s) grown += ch == '&' || ch == '"' || ch == '\'' ? 4 : ch == '<' || ch == '>' ? 3 : 0;
  check_grow(s.size(), grown);
  std::string out;
  out.reserve(s.size() + grown);
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

Value markup_escape(const Value& v) {
  if (v.is_markup()) return v;
  return Value::markup(html_escape(v.to_str()));
}

Value Value::none() {
  Value v;
  v.type_ = Type::kNone;
  return v;
}
static uint32_t nesting_of(uint32_t below) {
  if (below + 1 > Value::kMaxNesting)
    throw RuntimeError("value nesting exceeds " + std::to_string(Value::kMaxNesting) + " levels");
  return below + 1;
}

Value Value::list(List items, bool tuple) {
  Value v;
  v.type_ = Type::kList;
  v.tuple_ = tuple;
  uint32_t below = 0;
  for (const auto& e : items) below = std::max(below, e.depth_);
  v.depth_ = nesting_of(below);
  v.list_ = std::make_shared<const List>(std::move(items));
  return v;
}
Value Value::dict(Dict d) {
  Value v;
  v.type_ = Type::kDict;
  uint32_t below = 0;
  for (const auto& [k, e] : d.items()) below = std::max({below, k.depth_, e.depth_});
  v.depth_ = nesting_of(below);
  v.dict_ = std::make_shared<const Dict>(std::move(d));
  return v;
}
Value Value::function(std::string name, NativeFn fn, uint32_t depth_below) {
  Value v;
  v.type_ = Type::kFunction;
  v.depth_ = nesting_of(depth_below);
  v.fn_ = std::make_shared<const Function>(Function{std::move(name), std::move(fn)});
  return v;
}
Value Value::object(std::shared_ptr<Object> obj) {
  Value v;
  v.type_ = Type::kObject;
  v.obj_ = std::move(obj);
  return v;
}

Value Value::from_json(const nlohmann::ordered_json& j, int depth) {
  if (depth > static_cast<int>(kMaxNesting)) throw RuntimeError("JSON nesting exceeds " + std::to_string(kMaxNesting) + " levels");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return none();
    case nlohmann::ordered_json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value(j.get_ref<const std::string&>());
    case nlohmann::ordered_json::value_t::array: {
      List items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json(e, depth + 1));
      return list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict d;
      for (auto it = j.begin(); it != j.end(); ++it) d.append_unique(Value(it.key()), from_json(it.value(), depth + 1));
      return dict(std::move(d));
    }
    default: return none();  // binary / discarded: not produced by JSON text
  }
}

bool json_nested_deeper_than(const nlohmann::ordered_json& j, size_t max_depth) {
  std::vector<std::pair<const nlohmann::ordered_json*, size_t>> todo{{&j, 0}};
  while (!todo.empty()) {
    auto [v, depth] = todo.back();
    todo.pop_back();
    if (!v->is_structured()) continue;
    if (depth >= max_depth) return true;
    for (const auto& child : *v)
      if (child.is_structured()) todo.emplace_back(&child, depth + 1);
  }
  return false;
}

bool Value::same_object(const Value& o) const {
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::kUndefined: case Type::kNone: return true;
    case Type::kBool: return b_ == o.b_;
    case Type::kInt: return i_ == o.i_;
    case Type::kFloat: return f_ == o.f_;
    case Type::kString: return str() == o.str();
    case Type::kList: return list_ == o.list_;
    case Type::kDict: return dict_ == o.dict_;
    case Type::kFunction: return fn_ == o.fn_;
    case Type::kObject: return obj_ == o.obj_;
  }
  return false;
}

bool Value::truthy() const {
  switch (type_) {
    case Type::kUndefined: case Type::kNone: return false;
    case Type::kBool: return b_;
    case Type::kInt: return i_ != 0;
    case Type::kFloat: return f_ != 0.0;
    case Type::kString: return !str().empty();
    case Type::kList: return !list_->empty();
    case Type::kDict: return !dict_->empty();
    default: return true;
  }
}

std::string Value::type_name() const {
  switch (type_) {
    case Type::kUndefined: return "Undefined";
    case Type::kNone: return "NoneType";
    case Type::kBool: return "bool";
    case Type::kInt: return "int";
    case Type::kFloat: return "float";
    case Type::kString: return markup_ ? "Markup" : "str";
    case Type::kList: return tuple_ ? "tuple" : "list";
    case Type::kDict: return "dict";
    case Type::kFunction: return "function";
    case Type::kObject: return obj_->type_name();
  }
  return "object";
}

std::string Value::to_str() const {
  switch (type_) {
    case Type::kUndefined: return "";
    case Type::kString: return str();
    default: return repr();
  }
}

std::string Value::repr() const {
  // Objects (a namespace holding itself) can recurse where lists and dicts cannot.
  thread_local int depth = 0;
  struct Guard {
    Guard() {
      if (++depth > static_cast<int>(kMaxNesting) + 16) {
        --depth;
        throw RuntimeError("maximum recursion depth exceeded while getting the repr of an object");
      }
    }
    ~Guard() { --depth; }
  } guard;
  switch (type_) {
    case Type::kUndefined: return "Undefined";
    case Type::kNone: return "None";
    case Type::kBool: return b_ ? "True" : "False";
    case Type::kInt: return std::to_string(i_);
    case Type::kFloat: return py_float_repr(f_);
    case Type::kString: return markup_ ? "Markup(" + py_str_repr(str()) + ")" : py_str_repr(str());
    case Type::kList: {
      std::string out = tuple_ ? "(" : "[";
      for (size_t i = 0; i < list_->size(); ++i) {
        std::string item = (*list_)[i].repr();
        check_grow(out.size(), item.size() + 3);  // [s] * 10**6 of a long s fails before it is built
        if (i) out += ", ";
        out += item;
      }
      if (tuple_ && list_->size() == 1) out += ",";
      return out + (tuple_ ? ")" : "]");
    }
    case Type::kDict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : dict_->items()) {
        std::string key = k.repr(), value = v.repr();
        check_grow(out.size(), key.size() + value.size() + 4);
        if (!first) out += ", ";
        first = false;
        out += key + ": " + value;
      }
      return out + "}";
    }
    case Type::kFunction: return "<function " + fn_->name + ">";
    case Type::kObject: return obj_->repr();
  }
  return "";
}

std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  return v.type_name() + " object";
}

bool py_eq(const Value& a, const Value& b) {
  using T = Value::Type;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case T::kUndefined: case T::kNone: return true;
    case T::kString: return a.str() == b.str();
    case T::kList: {
      if (a.is_tuple() != b.is_tuple() || a.list().size() != b.list().size()) return false;
      for (size_t i = 0; i < a.list().size(); ++i)
        if (!py_eq(a.list()[i], b.list()[i])) return false;
      return true;
    }
    case T::kDict: {
      if (a.dict().size() != b.dict().size()) return false;
      for (const auto& [k, v] : a.dict().items()) {
        const Value* o = b.dict().find(k);
        if (!o || !py_eq(v, *o)) return false;
      }
      return true;
    }
    default: return a.same_object(b);
  }
}

int py_compare(const Value& a, const Value& b, const char* op) {
  if (a.is_undefined() || b.is_undefined())
    throw RuntimeError(a.is_undefined() ? a.undefined_message() : b.undefined_message());
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.as_double(), y = b.as_double();
      return x < y ? -1 : x > y ? 1 : 0;  // NaN compares "equal": no ordering either way
    }
    int64_t x = a.as_int(), y = b.as_int();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.str().compare(b.str());  // UTF-8 byte order is code-point order
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const List &x = a.list(), &y = b.list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (py_eq(x[i], y[i])) continue;
      return py_compare(x[i], y[i], op);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  throw RuntimeError(std::string("'") + op + "' not supported between instances of '" + a.type_name() +
                     "' and '" + b.type_name() + "'");
}

List py_iterate(const Value& v) {
  switch (v.type()) {
    case Value::Type::kUndefined: return {};
    case Value::Type::kString: {
      // One value per character: charged to the render's budget before they are made (a
      // 10 MB message iterated would otherwise be 10M values at once).
      count_work(static_cast<int64_t>(utf8_length(v.str())));
      List out;
      std::string s;
      for (char32_t c : utf8_decode(v.str())) {
        s.clear();
        utf8_append(s, c);
        out.emplace_back(s);
      }
      return out;
    }
    case Value::Type::kList: return v.list();
    case Value::Type::kDict: {
      List out;
      out.reserve(v.dict().size());
      for (const auto& kv : v.dict().items()) out.push_back(kv.first);
      return out;
    }
    case Value::Type::kObject:
      if (v.object()->iterable()) return v.object()->take_items();
      [[fallthrough]];
    default: throw RuntimeError("'" + v.type_name() + "' object is not iterable");
  }
}

int64_t py_len(const Value& v) {
  switch (v.type()) {
    case Value::Type::kUndefined: return 0;
    case Value::Type::kString: return static_cast<int64_t>(utf8_length(v.str()));
    case Value::Type::kList: return static_cast<int64_t>(v.list().size());
    case Value::Type::kDict: return static_cast<int64_t>(v.dict().size());
    default: throw RuntimeError("object of type '" + v.type_name() + "' has no len()");
  }
}

void check_hashable(const Value& key) {
  if ((key.is_list() && !key.is_tuple()) || key.is_dict()) throw RuntimeError("unhashable type: '" + key.type_name() + "'");
  if (key.is_tuple())
    for (const auto& e : key.list()) check_hashable(e);
}

bool py_contains(const Value& c, const Value& item) {
  switch (c.type()) {
    case Value::Type::kString:
      if (!item.is_string())
        throw RuntimeError("'in <string>' requires string as left operand, not " + item.type_name());
      return c.str().find(item.str()) != std::string::npos;
    case Value::Type::kList:
      for (const auto& e : c.list())
        if (py_eq(e, item)) return true;
      return false;
    case Value::Type::kDict: check_hashable(item); return c.dict().find(item) != nullptr;
    case Value::Type::kUndefined: return false;  // iterating an Undefined yields nothing
    case Value::Type::kObject:
      if (c.object()->iterable()) {  // `in` consumes an iterator up to the match
        List rest = c.object()->take_items();
        for (const auto& e : rest)
          if (py_eq(e, item)) return true;
        return false;
      }
      [[fallthrough]];
    default: throw RuntimeError("argument of type '" + c.type_name() + "' is not iterable");
  }
}

nlohmann::ordered_json to_json(const Value& v) {
  using J = nlohmann::ordered_json;
  switch (v.type()) {
    case Value::Type::kNone: return nullptr;
    case Value::Type::kBool: return v.as_bool();
    case Value::Type::kInt: return v.as_int();
    case Value::Type::kFloat: return v.as_double();
    case Value::Type::kString: return v.str();
    case Value::Type::kList: {
      J arr = J::array();
      for (const auto& e : v.list()) arr.push_back(to_json(e));
      return arr;
    }
    case Value::Type::kDict: {
      J obj = J::object();
      for (const auto& [k, e] : v.dict().items()) obj[k.is_string() ? k.str() : k.repr()] = to_json(e);
      return obj;
    }
    default: throw RuntimeError("Object of type " + v.type_name() + " is not JSON serializable");
  }
}

}  // namespace autolm::jinja
