// The evaluator's state: scopes, limits, and the operations filters and builtins call back into
// (calling values, applying filters/tests, sandboxed attribute and item lookup).
#pragma once

#include <ctime>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "chat/ast.h"
#include "chat/lexer.h"
#include "chat/value.h"

namespace autolm::jinja {

class Namespace;

struct Scope {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;
  const Value* find(const std::string& name) const;
};
using ScopePtr = std::shared_ptr<Scope>;

struct Limits {
  int max_depth = 100;                   // nested macro / caller / recursive-loop calls
  int64_t max_iterations = 10'000'000;   // loop iterations and list-building steps in one render
  size_t max_output = size_t{256} << 20; // bytes of output (and of any built string)
};

class Interp {
 public:
  Interp(const Program& program, const Limits& limits, std::optional<std::time_t> now);
  ~Interp();
  Interp(const Interp&) = delete;
  Interp& operator=(const Interp&) = delete;

  std::string render(const Dict& variables);

  // Callbacks for filters and builtins.
  Value call(const Value& callee, CallArgs& args);
  Value apply_filter(const std::string& name, const Value& input, CallArgs& args);
  bool apply_test(const std::string& name, const Value& input, CallArgs& args);
  Value getattr(const Value& obj, const std::string& name);  // obj.name as jinja2's sandbox resolves it
  Value getitem(const Value& obj, const Value& key);          // obj[key]
  std::time_t now() const;
  void count_steps(int64_t n);        // charges the iteration budget
  void check_size(size_t bytes) const;  // fails when a built string would pass max_output
  void track(const std::shared_ptr<Object>& obj);  // kept alive and emptied when the render ends

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  friend class LoopObject;

  Flow exec(const Body& body, const ScopePtr& scope, std::string& out);
  Flow exec_stmt(const Stmt& s, const ScopePtr& scope, std::string& out);
  void exec_for(const Stmt& s, const ScopePtr& scope, std::string& out, const List& items, int depth);
  void assign(const Target& t, const Value& v, const ScopePtr& scope);
  Value eval(const Expr& e, const ScopePtr& scope);
  Value eval_inner(const Expr& e, const ScopePtr& scope);
  Value eval_binary(const std::string& op, const Value& a, const Value& b);
  CallArgs eval_args(const Expr& e, const ScopePtr& scope);
  Value make_macro(const Stmt& s, const ScopePtr& closure, bool is_caller);
  Value call_macro(const Stmt& s, const ScopePtr& closure, CallArgs& args, bool is_caller);
  std::string render_body(const Body& body, const ScopePtr& scope);
  Value apply_filter_chain(const std::vector<ExprPtr>& filters, Value v, const ScopePtr& scope);
  [[noreturn]] void fail_at(size_t pos, const std::string& msg) const;
  // out += s, refused (naming the statement at `pos`) when the output would pass max_output.
  void append_output(std::string& out, std::string_view s, size_t pos) const;
  ScopePtr child_of(const ScopePtr& parent);
  void pin(const ScopePtr& scope);

  struct DepthGuard {
    DepthGuard(Interp& in, size_t pos);
    ~DepthGuard() { --in_.depth_; }
    Interp& in_;
  };

  const Program& program_;
  SourceMap map_;
  Limits limits_;
  std::optional<std::time_t> now_;
  ScopePtr globals_;
  int depth_ = 0;
  size_t saved_max_string_;  // the budgets of runtime_error.h as they were before this render
  int64_t saved_max_steps_, saved_steps_;
  uint64_t saved_max_built_, saved_built_;
  std::vector<std::shared_ptr<Object>> objects_;
  std::vector<ScopePtr> pinned_scopes_;
};

// Binds Python-style arguments to named parameters; absent ones come back undefined.
// Throws RuntimeError for surplus positional or unknown keyword arguments.
std::vector<Value> bind_args(const std::string& fname, const CallArgs& args,
                             std::initializer_list<const char*> params);

// Registries (filters.cc): nullptr when unknown.
using FilterFn = Value (*)(Interp&, const Value&, CallArgs&);
using TestFn = bool (*)(Interp&, const Value&, CallArgs&);
FilterFn find_filter(const std::string& name);
TestFn find_test(const std::string& name);

// Builtins (builtins.cc).
Dict make_globals();
Value bound_method(const Value& obj, const std::string& name);  // undefined when there is none
// Formatting (format.cc).
std::string json_dumps(const Value& v, bool ensure_ascii, const Value& indent, const Value& separators,
                       bool sort_keys);
std::string percent_format(Interp& in, const std::string& fmt, const Value& args);  // "fmt" % args
std::string str_format(Interp& in, const std::string& fmt, const CallArgs& args);   // "fmt".format(...)
Value py_slice(const Value& seq, const Value& start, const Value& stop, const Value& step);

// Namespace objects are created by namespace() and assigned through {% set ns.attr = … %}.
class Namespace : public Object {
 public:
  std::string type_name() const override { return "Namespace"; }
  Value get_attr(const std::string& name) override;
  std::string repr() const override;
  void set(const std::string& name, Value v) { attrs_.set(Value(name), std::move(v)); }
  void clear_refs() override { attrs_ = Dict(); }

 private:
  Dict attrs_;
};

}  // namespace autolm::jinja
