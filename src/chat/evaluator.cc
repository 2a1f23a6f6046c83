// Executes a parsed Program: statements with jinja2's scoping (loop bodies, macros and blocks get
// their own scope; if does not), expressions with Python operator semantics, sandboxed lookups.
#include <algorithm>
#include <cmath>

#include "autolm/error.h"
#include "chat/interp.h"
#include "chat/pystr.h"
#include "chat/runtime_error.h"

namespace autolm::jinja {

const Value* Scope::find(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return &it->second;
  }
  return nullptr;
}

Value Namespace::get_attr(const std::string& name) {
  const Value* v = attrs_.find(name);
  return v ? *v : Value::undefined("'Namespace object' has no attribute '" + name + "'");
}
std::string Namespace::repr() const {
  thread_local std::vector<const Namespace*> active;  // Python's repr recursion guard prints {...}
  if (std::find(active.begin(), active.end(), this) != active.end()) return "<Namespace {...}>";
  active.push_back(this);
  try {
    std::string s = "<Namespace " + Value::dict(attrs_).repr() + ">";
    active.pop_back();
    return s;
  } catch (...) {
    active.pop_back();
    throw;
  }
}

// jinja2's LoopContext.
class LoopObject : public Object, public std::enable_shared_from_this<LoopObject> {
 public:
  LoopObject(Interp& in, const List& items, int depth, const Stmt* recursive_stmt, ScopePtr scope)
      : in_(in), items_(items), depth_(depth), stmt_(recursive_stmt), scope_(std::move(scope)) {}
  std::string type_name() const override { return "LoopContext"; }
  void clear_refs() override {
    items_.clear();
    scope_.reset();
    last_changed_ = Value();
  }
  std::string repr() const override {
    return "<LoopContext " + std::to_string(index_ + 1) + "/" + std::to_string(items_.size()) + ">";
  }
  void set_index(size_t i) { index_ = i; }

  Value get_attr(const std::string& name) override {
    int64_t n = static_cast<int64_t>(items_.size()), i = static_cast<int64_t>(index_);
    if (name == "index") return Value(i + 1);
    if (name == "index0") return Value(i);
    if (name == "revindex") return Value(n - i);
    if (name == "revindex0") return Value(n - i - 1);
    if (name == "first") return Value(i == 0);
    if (name == "last") return Value(i == n - 1);
    if (name == "length") return Value(n);
    if (name == "depth") return Value(static_cast<int64_t>(depth_));
    if (name == "depth0") return Value(static_cast<int64_t>(depth_ - 1));
    if (name == "previtem") return i > 0 && i <= n ? items_[i - 1] : Value::undefined("there is no previous item");
    if (name == "nextitem") return i + 1 < n ? items_[i + 1] : Value::undefined("there is no next item");
    if (name == "cycle") {
      size_t idx = index_;
      return Value::function("cycle", [idx](Interp&, CallArgs& a) -> Value {
        if (a.args.empty()) throw RuntimeError("no items for cycling given");
        return a.args[idx % a.args.size()];
      });
    }
    if (name == "changed") {
      auto self = shared_from_this();
      return Value::function("changed", [self](Interp&, CallArgs& a) -> Value {
        Value now = Value::list(a.args);
        if (self->has_last_ && py_eq(now, self->last_changed_)) return Value(false);
        self->has_last_ = true;
        self->last_changed_ = now;
        return Value(true);
      });
    }
    return Object::get_attr(name);
  }

  Value call(CallArgs& args) {
    if (!stmt_) throw RuntimeError("Tried to call non recursive loop.  Maybe you forgot the 'recursive' modifier.");
    if (args.args.size() != 1) throw RuntimeError("loop() takes exactly one argument");
    Interp::DepthGuard guard(in_, stmt_->pos);
    std::string out;
    in_.exec_for(*stmt_, scope_, out, py_iterate(args.args[0]), depth_ + 1);
    return Value(out);
  }

 private:
  Interp& in_;
  List items_;
  size_t index_ = 0;
  int depth_;
  const Stmt* stmt_;
  ScopePtr scope_;
  bool has_last_ = false;
  Value last_changed_;
};

Interp::DepthGuard::DepthGuard(Interp& in, size_t pos) : in_(in) {
  if (++in_.depth_ > in_.limits_.max_depth) {
    --in_.depth_;
    in_.fail_at(pos, "maximum recursion depth exceeded (" + std::to_string(in_.limits_.max_depth) +
                         " nested calls)");
  }
}

Interp::Interp(const Program& program, const Limits& limits, std::optional<std::time_t> now)
    : program_(program), map_(program.name, program.source), limits_(limits), now_(now) {
  // The budgets every string builder and list builder checks (runtime_error.h), for this render.
  saved_max_string_ = max_string_bytes;
  saved_max_steps_ = max_work_steps;
  saved_steps_ = work_steps;
  saved_max_built_ = max_built_bytes;
  saved_built_ = built_bytes;
  max_built_bytes = limits_.max_output > UINT64_MAX / kBuiltPerOutput ? UINT64_MAX : limits_.max_output * kBuiltPerOutput;
  built_bytes = 0;
  max_string_bytes = limits_.max_output;
  max_work_steps = limits_.max_iterations;
  work_steps = 0;
  globals_ = std::make_shared<Scope>();
  static const Dict kGlobals = make_globals();  // stateless functions, shared by every render
  for (const auto& [k, v] : kGlobals.items()) globals_->vars[k.str()] = v;
}

std::time_t Interp::now() const { return now_ ? *now_ : std::time(nullptr); }

void Interp::count_steps(int64_t n) { count_work(n); }

void Interp::check_size(size_t bytes) const { check_grow(0, bytes); }

void Interp::append_output(std::string& out, std::string_view s, size_t pos) const {
  if (out.size() > limits_.max_output || s.size() > limits_.max_output - out.size())
    fail_at(pos, "template output exceeded the size limit (" + std::to_string(limits_.max_output) +
                     " bytes, max_output)");
  out += s;
}

void Interp::fail_at(size_t pos, const std::string& msg) const {
  throw Error(ErrorKind::kInvalidInput, map_.where(pos) + ": " + msg);
}

std::string Interp::render(const Dict& variables) {
  auto scope = child_of(globals_);
  for (const auto& [k, v] : variables.items()) scope->vars[k.to_str()] = v;
  std::string out;
  try {
    exec(program_.body, scope, out);
  } catch (const RuntimeError& e) {  // raised outside any expression (loop budget, unpacking…)
    throw Error(ErrorKind::kInvalidInput, program_.name + ": " + e.what());
  }
  return out;
}

Interp::Flow Interp::exec(const Body& body, const ScopePtr& scope, std::string& out) {
  for (const auto& s : body) {
    Flow f = exec_stmt(*s, scope, out);
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

std::string Interp::render_body(const Body& body, const ScopePtr& scope) {
  std::string out;
  exec(body, scope, out);
  return out;
}

ScopePtr Interp::child_of(const ScopePtr& parent) {
  auto s = std::make_shared<Scope>();
  s->parent = parent;
  return s;
}

// Objects, and scopes that macros close over, can form reference cycles ({% set ns.me = ns %}, a macro
// stored in its own scope) and arbitrarily long chains (ns.x = namespace(x=ns.x) in a loop). The
// Interp keeps them all alive until the render ends, then empties each one before letting go, so
// nothing leaks and no free recurses deeper than Value::kMaxNesting.
void Interp::track(const std::shared_ptr<Object>& obj) { objects_.push_back(obj); }
void Interp::pin(const ScopePtr& scope) {
  if (pinned_scopes_.empty() || pinned_scopes_.back() != scope) pinned_scopes_.push_back(scope);
}

Interp::~Interp() {
  for (auto& obj : objects_) obj->clear_refs();
  for (auto& scope : pinned_scopes_) scope->vars.clear();
  max_string_bytes = saved_max_string_;
  max_work_steps = saved_max_steps_;
  work_steps = saved_steps_;
  max_built_bytes = saved_max_built_;
  built_bytes = saved_built_;
}

Interp::Flow Interp::exec_stmt(const Stmt& s, const ScopePtr& scope, std::string& out) {
  switch (s.kind) {
    case StmtKind::kData:
      append_output(out, s.text, s.pos);
      return Flow::kNormal;
    case StmtKind::kPrint: {
      Value v = eval(*s.expr, scope);
      if (v.is_string()) append_output(out, v.str(), s.pos);  // no copy of a long string
      else append_output(out, v.to_str(), s.pos);
      return Flow::kNormal;
    }
    case StmtKind::kIf:
      for (const auto& [cond, body] : s.branches)
        if (eval(*cond, scope).truthy()) return exec(body, scope, out);
      return exec(s.else_body, scope, out);
    case StmtKind::kFor: {
      Value iterable = eval(*s.expr, scope);
      List items;
      try {
        items = py_iterate(iterable);
      } catch (const RuntimeError& e) {
        fail_at(s.expr->pos, e.what());
      }
      exec_for(s, scope, out, items, 1);
      return Flow::kNormal;
    }
    case StmtKind::kSet:
      assign(s.target, eval(*s.expr, scope), scope);
      return Flow::kNormal;
    case StmtKind::kSetBlock: {
      Value v(render_body(s.body, child_of(scope)));
      assign(s.target, apply_filter_chain(s.filters, std::move(v), scope), scope);
      return Flow::kNormal;
    }
    case StmtKind::kMacro:
      scope->vars[s.name] = make_macro(s, scope, false);
      return Flow::kNormal;
    case StmtKind::kCallBlock: {
      const Expr& call_expr = *s.expr;
      Value callee = eval(*call_expr.a, scope);
      CallArgs args = eval_args(call_expr, scope);
      args.kwargs.emplace_back("caller", make_macro(s, scope, true));
      std::string text;
      try {
        text = call(callee, args).to_str();
      } catch (const RuntimeError& e) {
        fail_at(call_expr.pos, e.what());
      }
      append_output(out, text, s.pos);
      return Flow::kNormal;
    }
    case StmtKind::kFilterBlock: {
      Value v(render_body(s.body, child_of(scope)));
      append_output(out, apply_filter_chain(s.filters, std::move(v), scope).to_str(), s.pos);
      return Flow::kNormal;
    }
    case StmtKind::kWith: {
      auto inner = child_of(scope);
      for (const auto& [target, expr] : s.assigns) assign(target, eval(*expr, scope), inner);
      return exec(s.body, inner, out);
    }
    case StmtKind::kScope:
      return exec(s.body, child_of(scope), out);
    case StmtKind::kBreak: return Flow::kBreak;
    case StmtKind::kContinue: return Flow::kContinue;
  }
  return Flow::kNormal;
}

void Interp::exec_for(const Stmt& s, const ScopePtr& scope, std::string& out, const List& all, int depth) {
  const List* items = &all;
  List filtered;
  if (s.cond) {
    for (const Value& item : all) {
      count_steps(1);
      auto probe = child_of(scope);
      assign(s.target, item, probe);
      if (eval(*s.cond, probe).truthy()) filtered.push_back(item);
    }
    items = &filtered;
  }
  if (items->empty()) {
    exec(s.else_body, child_of(scope), out);
    return;
  }
  auto loop = std::make_shared<LoopObject>(*this, *items, depth, s.recursive ? &s : nullptr, scope);
  track(loop);
  Value loop_value = Value::object(loop);  // callable as loop(...) when the loop is recursive
  for (size_t i = 0; i < items->size(); ++i) {
    count_steps(1);
    loop->set_index(i);
    auto iter_scope = child_of(scope);
    iter_scope->vars["loop"] = loop_value;
    assign(s.target, (*items)[i], iter_scope);
    Flow f = exec(s.body, iter_scope, out);
    if (f == Flow::kBreak) break;
  }
}

void Interp::assign(const Target& t, const Value& v, const ScopePtr& scope) {
  switch (t.kind) {
    case Target::Kind::kName:
      scope->vars[t.name] = v;
      return;
    case Target::Kind::kTuple: {
      List parts;
      try {
        parts = py_iterate(v);
      } catch (const RuntimeError& e) {
        fail_at(t.pos, std::string("cannot unpack non-iterable ") + v.type_name() + " object");
      }
      if (parts.size() < t.items.size())
        fail_at(t.pos, "not enough values to unpack (expected " + std::to_string(t.items.size()) + ", got " +
                           std::to_string(parts.size()) + ")");
      if (parts.size() > t.items.size())
        fail_at(t.pos, "too many values to unpack (expected " + std::to_string(t.items.size()) + ")");
      for (size_t i = 0; i < parts.size(); ++i) assign(t.items[i], parts[i], scope);
      return;
    }
    case Target::Kind::kNsAttr: {
      const Value* ns = scope->find(t.name);
      auto* obj = ns && ns->is_object() ? dynamic_cast<Namespace*>(ns->object().get()) : nullptr;
      if (!obj) fail_at(t.pos, "cannot assign attribute on non-namespace object");
      obj->set(t.attr, v);
      return;
    }
  }
}

Value Interp::make_macro(const Stmt& s, const ScopePtr& closure, bool is_caller) {
  pin(closure);
  const Stmt* stmt = &s;
  return Value::function(is_caller ? "caller" : s.name, [stmt, closure, is_caller](Interp& in, CallArgs& args) {
    return in.call_macro(*stmt, closure, args, is_caller);
  });
}

Value Interp::call_macro(const Stmt& s, const ScopePtr& closure, CallArgs& args, bool is_caller) {
  DepthGuard guard(*this, s.pos);
  std::string name = is_caller ? "caller" : s.name;
  auto scope = child_of(closure);
  size_t n = s.params.size();
  std::vector<std::pair<std::string, Value>> kwargs = args.kwargs;
  bool found_caller = false;
  for (size_t i = 0; i < n; ++i) {
    const std::string& p = s.params[i];
    Value v;
    bool have = false;
    if (i < args.args.size()) {
      v = args.args[i];
      have = true;
    } else {
      for (auto it = kwargs.begin(); it != kwargs.end(); ++it)
        if (it->first == p) {
          v = it->second;
          have = true;
          kwargs.erase(it);
          break;
        }
      if (p == "caller") found_caller = true;
    }
    if (!have) v = s.defaults[i] ? eval(*s.defaults[i], scope) : Value::undefined("parameter '" + p + "' was not provided");
    scope->vars[p] = v;
  }
  if (!is_caller && s.uses_caller && !found_caller) {
    Value caller = Value::undefined("No caller defined");
    for (auto it = kwargs.begin(); it != kwargs.end(); ++it)
      if (it->first == "caller") {
        caller = it->second;
        kwargs.erase(it);
        break;
      }
    scope->vars["caller"] = caller;
  }
  if (s.uses_kwargs) {
    Dict d;
    for (auto& [k, v] : kwargs) d.set(Value(k), v);
    scope->vars["kwargs"] = Value::dict(std::move(d));
  } else if (!kwargs.empty()) {
    if (kwargs[0].first == "caller")
      throw RuntimeError("macro '" + name + "' was invoked with two values for the special caller argument. This is most likely a bug.");
    throw RuntimeError("macro '" + name + "' takes no keyword argument '" + kwargs[0].first + "'");
  }
  if (s.uses_varargs) {
    List rest;
    for (size_t i = n; i < args.args.size(); ++i) rest.push_back(args.args[i]);
    scope->vars["varargs"] = Value::list(std::move(rest), true);
  } else if (args.args.size() > n) {
    throw RuntimeError("macro '" + name + "' takes not more than " + std::to_string(n) + " argument(s)");
  }
  return Value(render_body(s.body, scope));
}

Value Interp::apply_filter_chain(const std::vector<ExprPtr>& filters, Value v, const ScopePtr& scope) {
  for (const auto& f : filters) {
    CallArgs args = eval_args(*f, scope);
    try {
      v = apply_filter(f->name, v, args);
    } catch (const RuntimeError& e) {
      fail_at(f->pos, e.what());
    }
  }
  return v;
}

CallArgs Interp::eval_args(const Expr& e, const ScopePtr& scope) {
  CallArgs args;
  for (const auto& a : e.items) args.args.push_back(eval(*a, scope));
  for (const auto& [k, a] : e.kwargs) args.kwargs.emplace_back(k, eval(*a, scope));
  if (e.dyn_args) {
    Value extra = eval(*e.dyn_args, scope);
    try {
      for (auto& v : py_iterate(extra)) args.args.push_back(v);
    } catch (const RuntimeError& err) {
      fail_at(e.dyn_args->pos, err.what());
    }
  }
  if (e.dyn_kwargs) {
    Value extra = eval(*e.dyn_kwargs, scope);
    if (!extra.is_dict()) fail_at(e.dyn_kwargs->pos, "argument after ** must be a mapping, not " + extra.type_name());
    for (const auto& [k, v] : extra.dict().items()) args.kwargs.emplace_back(k.to_str(), v);
  }
  return args;
}

Value Interp::eval(const Expr& e, const ScopePtr& scope) {
  try {
    return eval_inner(e, scope);
  } catch (const RuntimeError& err) {
    fail_at(e.pos, err.what());
  }
}

static Value undefined_name(const std::string& name) { return Value::undefined("'" + name + "' is undefined"); }

Value Interp::eval_inner(const Expr& e, const ScopePtr& scope) {
  switch (e.kind) {
    case ExprKind::kConst: return e.value;
    case ExprKind::kName: {
      const Value* v = scope->find(e.name);
      return v ? *v : undefined_name(e.name);
    }
    case ExprKind::kGetattr: return getattr(eval(*e.a, scope), e.name);
    case ExprKind::kGetitem: {
      Value obj = eval(*e.a, scope);
      if (e.b->kind == ExprKind::kSlice) {
        const Expr& sl = *e.b;
        Value start = sl.a ? eval(*sl.a, scope) : Value::none();
        Value stop = sl.b ? eval(*sl.b, scope) : Value::none();
        Value step = sl.c ? eval(*sl.c, scope) : Value::none();
        if (obj.is_undefined()) throw RuntimeError(obj.undefined_message());
        if (!obj.is_string() && !obj.is_list()) return Value::undefined(object_type_repr(obj) + " has no element slice");
        return py_slice(obj, start, stop, step);
      }
      return getitem(obj, eval(*e.b, scope));
    }
    case ExprKind::kSlice: throw RuntimeError("slice outside of a subscript");
    case ExprKind::kList:
    case ExprKind::kTuple: {
      List items;
      items.reserve(e.items.size());
      for (const auto& i : e.items) items.push_back(eval(*i, scope));
      return Value::list(std::move(items), e.kind == ExprKind::kTuple);
    }
    case ExprKind::kDict: {
      Dict d;
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        Value k = eval(*e.items[i], scope);
        if ((k.is_list() && !k.is_tuple()) || k.is_dict()) throw RuntimeError("unhashable type: '" + k.type_name() + "'");
        d.set(k, eval(*e.items[i + 1], scope));
      }
      return Value::dict(std::move(d));
    }
    case ExprKind::kBinary: {
      Value a = eval(*e.a, scope);
      Value b = eval(*e.b, scope);
      return eval_binary(e.name, a, b);
    }
    case ExprKind::kConcat: {
      std::string s;
      for (const auto& i : e.items) {
        Value part = eval(*i, scope);
        const std::string text = part.is_string() ? std::string() : part.to_str();
        const std::string& piece = part.is_string() ? part.str() : text;
        check_grow(s.size(), piece.size());
        s += piece;
      }
      return Value(std::move(s));
    }
    case ExprKind::kCompare: {
      Value left = eval(*e.items[0], scope);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.items[i + 1], scope);
        const std::string& op = e.ops[i];
        bool r;
        if (op == "==") r = py_eq(left, right);
        else if (op == "!=") r = !py_eq(left, right);
        else if (op == "in") r = py_contains(right, left);
        else if (op == "notin") r = !py_contains(right, left);
        else {
          int c = py_compare(left, right, op.c_str());
          bool nan = (left.is_float() && std::isnan(left.as_double())) || (right.is_float() && std::isnan(right.as_double()));
          r = !nan && (op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0);
        }
        if (!r) return Value(false);
        left = std::move(right);
      }
      return Value(true);
    }
    case ExprKind::kNot: return Value(!eval(*e.a, scope).truthy());
    case ExprKind::kNeg:
    case ExprKind::kPos: {
      Value v = eval(*e.a, scope);
      if (v.is_undefined()) throw RuntimeError(v.undefined_message());
      if (v.is_float()) return Value(e.kind == ExprKind::kNeg ? -v.as_double() : v.as_double());
      if (v.is_int() || v.is_bool()) {
        int64_t x = v.as_int();
        if (e.kind == ExprKind::kPos) return Value(x);
        if (x == INT64_MIN) throw RuntimeError("integer overflow");
        return Value(-x);
      }
      throw RuntimeError(std::string("bad operand type for unary ") + (e.kind == ExprKind::kNeg ? "-" : "+") +
                         ": '" + v.type_name() + "'");
    }
    case ExprKind::kAnd: {
      Value a = eval(*e.a, scope);
      return a.truthy() ? eval(*e.b, scope) : a;
    }
    case ExprKind::kOr: {
      Value a = eval(*e.a, scope);
      return a.truthy() ? a : eval(*e.b, scope);
    }
    case ExprKind::kCond:
      if (eval(*e.b, scope).truthy()) return eval(*e.a, scope);
      if (e.c) return eval(*e.c, scope);
      return Value::undefined("the inline if-expression on " + map_.where(e.pos) +
                              " evaluated to false and no else section was defined.");
    case ExprKind::kFilter: {
      Value input = eval(*e.a, scope);
      CallArgs args = eval_args(e, scope);
      return apply_filter(e.name, input, args);
    }
    case ExprKind::kTest: {
      Value input = eval(*e.a, scope);
      CallArgs args = eval_args(e, scope);
      return Value(apply_test(e.name, input, args));
    }
    case ExprKind::kCall: {
      Value callee = eval(*e.a, scope);
      CallArgs args = eval_args(e, scope);
      return call(callee, args);
    }
  }
  throw RuntimeError("unknown expression");
}

Value Interp::call(const Value& callee, CallArgs& args) {
  if (callee.is_function()) return callee.function().fn(*this, args);
  if (callee.is_object())
    if (auto* loop = dynamic_cast<LoopObject*>(callee.object().get())) return loop->call(args);
  if (callee.is_undefined()) throw RuntimeError(callee.undefined_message());
  throw RuntimeError("'" + callee.type_name() + "' object is not callable");
}

Value Interp::apply_filter(const std::string& name, const Value& input, CallArgs& args) {
  FilterFn f = find_filter(name);
  if (!f) throw RuntimeError("No filter named '" + name + "'.");
  return f(*this, input, args);
}

bool Interp::apply_test(const std::string& name, const Value& input, CallArgs& args) {
  TestFn t = find_test(name);
  if (!t) throw RuntimeError("No test named '" + name + "'.");
  return t(*this, input, args);
}

Value Interp::getattr(const Value& obj, const std::string& name) {
  switch (obj.type()) {
    case Value::Type::kUndefined: throw RuntimeError(obj.undefined_message());
    case Value::Type::kObject: return obj.object()->get_attr(name);
    case Value::Type::kDict: {
      Value m = bound_method(obj, name);
      if (!m.is_undefined() || !m.undefined_message().empty()) return m;
      const Value* v = obj.dict().find(name);
      if (v) return *v;
      break;
    }
    default: {
      Value m = bound_method(obj, name);
      if (!m.is_undefined() || !m.undefined_message().empty()) return m;
    }
  }
  return Value::undefined("'" + object_type_repr(obj) + "' has no attribute '" + name + "'");
}

Value Interp::getitem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) throw RuntimeError(obj.undefined_message());
  if (obj.is_dict()) {
    if (key.is_list() && !key.is_tuple()) throw RuntimeError("unhashable type: 'list'");
    if (const Value* v = obj.dict().find(key)) return *v;
  } else if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t n = py_len(obj), i = key.as_int();
    if (i < 0) i += n;
    if (i >= 0 && i < n) {
      if (obj.is_list()) return obj.list()[i];
      return py_slice(obj, Value(i), Value(i + 1), Value::none());
    }
    return Value::undefined(object_type_repr(obj) + " has no element " + key.repr());
  } else if (obj.is_object() && key.is_string()) {
    return obj.object()->get_attr(key.str());
  }
  if (key.is_string()) {
    Value m = bound_method(obj, key.str());
    if (!m.is_undefined() || !m.undefined_message().empty()) return m;
    return Value::undefined("'" + object_type_repr(obj) + "' has no attribute '" + key.str() + "'");
  }
  return Value::undefined(object_type_repr(obj) + " has no element " + key.repr());
}

static bool mul_overflows(int64_t a, int64_t b, int64_t* r) { return __builtin_mul_overflow(a, b, r); }

// seq * n: the result's size is checked (overflow-safe) before anything is built, and an empty
// sequence times 10**18 returns at once instead of looping.
static Value repeat(Interp& in, const Value& seq, int64_t n) {
  const size_t unit = seq.is_string() ? seq.str().size() : seq.list().size();
  if (n <= 0 || unit == 0) return seq.is_string() ? Value(std::string()) : Value::list({}, seq.is_tuple());
  if (seq.is_string()) {
    check_grow_times(0, unit, static_cast<uint64_t>(n));
    std::string s;
    s.reserve(unit * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) s += seq.str();
    return Value(std::move(s));
  }
  int64_t total;
  if (__builtin_mul_overflow(static_cast<int64_t>(unit), n, &total)) total = INT64_MAX;
  in.count_steps(total);
  List out;
  out.reserve(static_cast<size_t>(total));
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.list().begin(), seq.list().end());
  return Value::list(std::move(out), seq.is_tuple());
}

Value Interp::eval_binary(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined()) throw RuntimeError(a.undefined_message());
  if (b.is_undefined()) throw RuntimeError(b.undefined_message());
  bool nums = a.is_number() && b.is_number();
  bool ints = nums && !a.is_float() && !b.is_float();
  auto unsupported = [&]() -> RuntimeError {
    return RuntimeError("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
  };
  int64_t r;
  if (op == "+") {
    if (ints) {
      if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) throw RuntimeError("integer overflow");
      return Value(r);
    }
    if (nums) return Value(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) {
      check_size(a.str().size() + b.str().size());
      return Value(a.str() + b.str());
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      count_steps(static_cast<int64_t>(a.list().size() + b.list().size()));
      List out;
      out.reserve(a.list().size() + b.list().size());
      out.insert(out.end(), a.list().begin(), a.list().end());
      out.insert(out.end(), b.list().begin(), b.list().end());
      return Value::list(std::move(out), a.is_tuple());
    }
    if (a.is_string()) throw RuntimeError("can only concatenate str (not \"" + b.type_name() + "\") to str");
    if (a.is_list()) throw RuntimeError("can only concatenate " + a.type_name() + " (not \"" + b.type_name() + "\") to " + a.type_name());
    throw unsupported();
  }
  if (op == "-") {
    if (ints) {
      if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) throw RuntimeError("integer overflow");
      return Value(r);
    }
    if (nums) return Value(a.as_double() - b.as_double());
    throw unsupported();
  }
  if (op == "*") {
    if (ints) {
      if (mul_overflows(a.as_int(), b.as_int(), &r)) throw RuntimeError("integer overflow");
      return Value(r);
    }
    if (nums) return Value(a.as_double() * b.as_double());
    if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return repeat(*this, a, b.as_int());
    if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return repeat(*this, b, a.as_int());
    throw RuntimeError("can't multiply sequence by non-int of type '" +
                       ((a.is_string() || a.is_list()) ? b.type_name() : a.type_name()) + "'");
  }
  if (op == "/") {
    if (!nums) throw unsupported();
    if (b.as_double() == 0) throw RuntimeError("division by zero");
    return Value(a.as_double() / b.as_double());
  }
  if (op == "//" || op == "%") {
    if (op == "%" && a.is_string()) return Value(percent_format(*this, a.str(), b));
    if (!nums) throw unsupported();
    if (ints) {
      int64_t x = a.as_int(), y = b.as_int();
      if (y == 0) throw RuntimeError("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) throw RuntimeError("integer overflow");
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        --q;
        m += y;
      }
      return Value(op == "//" ? q : m);
    }
    double x = a.as_double(), y = b.as_double();  // CPython's float_divmod
    if (y == 0) throw RuntimeError(op == "//" ? "float floor division by zero" : "float modulo");
    double m = std::fmod(x, y);
    double div = (x - m) / y;
    if (m != 0) {
      if ((y < 0) != (m < 0)) {
        m += y;
        div -= 1.0;
      }
    } else {
      m = std::copysign(0.0, y);
    }
    if (op == "%") return Value(m);
    double fd = 0;
    if (div != 0) {
      fd = std::floor(div);
      if (div - fd > 0.5) fd += 1.0;
    } else {
      fd = std::copysign(0.0, x / y);
    }
    return Value(fd);
  }
  if (op == "**") {
    if (!nums) throw unsupported();
    if (ints && b.as_int() >= 0) {
      int64_t base = a.as_int(), e = b.as_int(), result = 1;
      while (e > 0) {
        if (e & 1)
          if (mul_overflows(result, base, &result)) throw RuntimeError("integer overflow");
        e >>= 1;
        if (e > 0 && mul_overflows(base, base, &base)) throw RuntimeError("integer overflow");
      }
      return Value(result);
    }
    if (a.as_double() == 0 && b.as_double() < 0) throw RuntimeError("0.0 cannot be raised to a negative power");
    return Value(std::pow(a.as_double(), b.as_double()));
  }
  throw RuntimeError("unknown operator " + op);
}

}  // namespace autolm::jinja
