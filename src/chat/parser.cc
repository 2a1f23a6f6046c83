// Recursive-descent parser with jinja2's precedence: condexpr < or < and < not < compare < +,- < ~ <
// *,/,//,% < ** (left-assoc) < unary -,+ < primary with postfix (.attr [sub] (call)) and filters/tests.
#include "chat/parser.h"

#include <algorithm>
#include <initializer_list>

#include "autolm/error.h"
#include "chat/lexer.h"

namespace autolm::jinja {
namespace {

constexpr int kMaxNesting = 100;  // nested expressions/blocks; bounds parser and evaluator recursion

class Parser {
 public:
  Parser(std::vector<Token> tokens, const SourceMap& map) : toks_(std::move(tokens)), map_(map) {}

  Body parse_template() {
    Body body = subparse({});
    if (cur().type != Tok::kEof) fail_unknown_tag(cur().text, cur().offset);
    return body;
  }

 private:
  // ---- token stream
  const Token& cur() const { return toks_[i_]; }
  const Token& look() const { return toks_[i_ + 1 < toks_.size() ? i_ + 1 : i_]; }
  const Token& next() {
    const Token& t = toks_[i_];
    if (i_ + 1 < toks_.size()) ++i_;
    return t;
  }
  bool is_op(const char* op) const { return cur().type == Tok::kOp && cur().text == op; }
  bool is_name(const char* name) const { return cur().type == Tok::kName && cur().text == name; }
  bool skip_op(const char* op) { return is_op(op) ? (next(), true) : false; }
  bool skip_name(const char* name) { return is_name(name) ? (next(), true) : false; }

  [[noreturn]] void fail(const std::string& msg, size_t offset) const {
    throw Error(ErrorKind::kInvalidInput, map_.where(offset) + ": " + msg);
  }
  [[noreturn]] void fail(const std::string& msg) const { fail(msg, cur().offset); }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case Tok::kName: case Tok::kOp: return t.text;
      case Tok::kString: return "string";
      case Tok::kInt: return "integer";
      case Tok::kFloat: return "float";
      case Tok::kData: return "template data / text";
      case Tok::kVarBegin: return "begin of print statement";
      case Tok::kVarEnd: return "end of print statement";
      case Tok::kBlockBegin: return "begin of statement block";
      case Tok::kBlockEnd: return "end of statement block";
      case Tok::kEof: return "end of template";
    }
    return "?";
  }
  static std::string quoted(const std::string& s) { return "'" + s + "'"; }

  void expect_op(const char* op) {
    if (is_op(op)) {
      next();
      return;
    }
    if (cur().type == Tok::kEof) fail("unexpected end of template, expected " + quoted(op) + ".");
    fail("expected token " + quoted(op) + ", got " + quoted(describe(cur())));
  }
  void expect_type(Tok type, const char* what) {
    if (cur().type == type) {
      next();
      return;
    }
    if (cur().type == Tok::kEof) fail(std::string("unexpected end of template, expected '") + what + "'.");
    fail(std::string("expected token '") + what + "', got " + quoted(describe(cur())));
  }
  std::string expect_name() {
    if (cur().type != Tok::kName) {
      if (cur().type == Tok::kEof) fail("unexpected end of template, expected 'name'.");
      fail("expected token 'name', got " + quoted(describe(cur())));
    }
    return next().text;
  }
  void expect_keyword(const char* name) {
    if (skip_name(name)) return;
    fail(std::string("expected token '") + name + "', got " + quoted(describe(cur())));
  }

  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxNesting) p_.fail("template nesting too deep (more than " + std::to_string(kMaxNesting) + " levels)");
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  // ---- statements
  Body subparse(const std::vector<std::string>& end_tags) {
    Body body;
    while (cur().type != Tok::kEof) {
      const Token& t = cur();
      if (t.type == Tok::kData) {
        auto s = make_stmt(StmtKind::kData, t.offset);
        s->text = t.text;
        body.push_back(std::move(s));
        next();
      } else if (t.type == Tok::kVarBegin) {
        next();
        auto s = make_stmt(StmtKind::kPrint, t.offset);
        s->expr = parse_tuple(false, true, {}, false);
        expect_type(Tok::kVarEnd, "end of print statement");
        body.push_back(std::move(s));
      } else if (t.type == Tok::kBlockBegin) {
        next();
        if (cur().type == Tok::kName)
          for (const auto& e : end_tags)
            if (cur().text == e) return body;
        body.push_back(parse_statement());
        expect_type(Tok::kBlockEnd, "end of statement block");
      } else {
        fail("unexpected " + quoted(describe(t)));
      }
    }
    if (!end_tags.empty()) fail_eof(end_tags);
    return body;
  }

  static std::string join_tags(const std::vector<std::string>& tags) {
    std::string s;
    for (size_t i = 0; i < tags.size(); ++i) s += (i ? " or '" : "'") + tags[i] + "'";
    return s;
  }

  [[noreturn]] void fail_unknown_tag(const std::string& name, size_t offset) {
    std::string msg = "Encountered unknown tag '" + name + "'.";
    if (!end_stack_.empty()) {
      bool expected = false;
      for (const auto& tags : end_stack_)
        for (const auto& t : tags) expected |= t == name;
      msg += expected ? " You probably made a nesting mistake. Jinja is expecting this tag, but currently looking for " +
                            join_tags(end_stack_.back()) + "."
                      : " Jinja was looking for the following tags: " + join_tags(end_stack_.back()) + ".";
    }
    if (!tag_stack_.empty()) msg += " The innermost block that needs to be closed is '" + tag_stack_.back() + "'.";
    fail(msg, offset);
  }
  [[noreturn]] void fail_eof(const std::vector<std::string>& end_tags) {
    std::string msg = "Unexpected end of template. Jinja was looking for the following tags: " + join_tags(end_tags) + ".";
    if (!tag_stack_.empty()) msg += " The innermost block that needs to be closed is '" + tag_stack_.back() + "'.";
    fail(msg);
  }

  // Parses a body up to one of end_tags (the tag name is left current unless drop_needle).
  Body parse_statements(const std::vector<std::string>& end_tags, bool drop_needle) {
    skip_op(":");
    expect_type(Tok::kBlockEnd, "end of statement block");
    end_stack_.push_back(end_tags);
    Body body = subparse(end_tags);
    end_stack_.pop_back();
    if (drop_needle) next();
    return body;
  }

  StmtPtr make_stmt(StmtKind kind, size_t pos) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->pos = pos;
    return s;
  }

  StmtPtr parse_statement() {
    DepthGuard guard(*this);
    const Token& t = cur();
    if (t.type != Tok::kName) fail("tag name expected");
    std::string tag = t.text;
    size_t pos = t.offset;
    static const char* kNeedLoader[] = {"extends", "include", "import", "from"};
    for (const char* k : kNeedLoader)
      if (tag == k) fail("tag '" + tag + "' needs a template loader; chat templates are self-contained", pos);
    tag_stack_.push_back(tag);
    StmtPtr s;
    if (tag == "if") s = parse_if();
    else if (tag == "for") s = parse_for();
    else if (tag == "set") s = parse_set();
    else if (tag == "macro") s = parse_macro();
    else if (tag == "call") s = parse_call_block();
    else if (tag == "filter") s = parse_filter_block();
    else if (tag == "with") s = parse_with();
    else if (tag == "print") s = parse_print();
    else if (tag == "break" || tag == "continue") s = parse_loop_control(tag);
    else if (tag == "generation" || tag == "block" || tag == "autoescape") s = parse_scope(tag);
    else {
      tag_stack_.pop_back();
      fail_unknown_tag(tag, pos);
    }
    tag_stack_.pop_back();
    return s;
  }

  StmtPtr parse_if() {
    auto s = make_stmt(StmtKind::kIf, next().offset);
    ExprPtr test = parse_tuple(false, false, {}, false);
    Body body = parse_statements({"elif", "else", "endif"}, false);
    s->branches.emplace_back(std::move(test), std::move(body));
    while (true) {
      std::string t = next().text;
      if (t == "elif") {
        ExprPtr c = parse_tuple(false, false, {}, false);
        Body b = parse_statements({"elif", "else", "endif"}, false);
        s->branches.emplace_back(std::move(c), std::move(b));
      } else if (t == "else") {
        s->else_body = parse_statements({"endif"}, true);
        break;
      } else {
        break;
      }
    }
    return s;
  }

  StmtPtr parse_for() {
    auto s = make_stmt(StmtKind::kFor, next().offset);
    s->target = parse_assign_target(false, {"in"});
    expect_keyword("in");
    s->expr = parse_tuple(false, false, {"recursive"}, false);
    if (skip_name("if")) s->cond = parse_expression(true);
    s->recursive = skip_name("recursive");
    ++loop_depth_;
    s->body = parse_statements({"endfor", "else"}, false);
    --loop_depth_;
    if (next().text == "else") s->else_body = parse_statements({"endfor"}, true);
    return s;
  }

  StmtPtr parse_loop_control(const std::string& tag) {
    size_t pos = next().offset;
    if (loop_depth_ == 0) fail("'" + tag + "' outside loop", pos);
    return make_stmt(tag == "break" ? StmtKind::kBreak : StmtKind::kContinue, pos);
  }

  StmtPtr parse_set() {
    size_t pos = next().offset;
    Target target = parse_assign_target(true, {});
    if (skip_op("=")) {
      auto s = make_stmt(StmtKind::kSet, pos);
      s->target = std::move(target);
      s->expr = parse_tuple(false, true, {}, false);
      return s;
    }
    auto s = make_stmt(StmtKind::kSetBlock, pos);
    s->target = std::move(target);
    while (is_op("|")) {
      next();
      s->filters.push_back(parse_one_filter(nullptr));
    }
    int saved = loop_depth_;
    loop_depth_ = 0;
    s->body = parse_statements({"endset"}, true);
    loop_depth_ = saved;
    return s;
  }

  void parse_signature(Stmt& s) {
    expect_op("(");
    while (!is_op(")")) {
      if (!s.params.empty()) expect_op(",");
      size_t pos = cur().offset;
      s.params.push_back(expect_name());
      if (skip_op("=")) {
        s.defaults.push_back(parse_expression(true));
      } else {
        for (const auto& d : s.defaults)
          if (d) fail("non-default argument follows default argument", pos);
        s.defaults.push_back(nullptr);
      }
    }
    expect_op(")");
  }

  StmtPtr parse_macro() {
    auto s = make_stmt(StmtKind::kMacro, next().offset);
    s->name = expect_name();
    parse_signature(*s);
    int saved = loop_depth_;
    loop_depth_ = 0;
    open_macros_.push_back(s.get());
    s->body = parse_statements({"endmacro"}, true);
    open_macros_.pop_back();
    loop_depth_ = saved;
    return s;
  }

  StmtPtr parse_call_block() {
    auto s = make_stmt(StmtKind::kCallBlock, next().offset);
    if (is_op("(")) parse_signature(*s);
    size_t pos = cur().offset;
    s->expr = parse_expression(true);
    if (s->expr->kind != ExprKind::kCall) fail("expected call", pos);
    int saved = loop_depth_;
    loop_depth_ = 0;
    s->body = parse_statements({"endcall"}, true);
    loop_depth_ = saved;
    return s;
  }

  StmtPtr parse_filter_block() {
    auto s = make_stmt(StmtKind::kFilterBlock, next().offset);
    s->filters.push_back(parse_one_filter(nullptr));
    while (is_op("|")) {
      next();
      s->filters.push_back(parse_one_filter(nullptr));
    }
    s->body = parse_statements({"endfilter"}, true);
    return s;
  }

  StmtPtr parse_with() {
    auto s = make_stmt(StmtKind::kWith, next().offset);
    while (cur().type != Tok::kBlockEnd) {
      if (!s->assigns.empty()) expect_op(",");
      Target t = parse_assign_target(false, {});
      expect_op("=");
      s->assigns.emplace_back(std::move(t), parse_expression(true));
    }
    s->body = parse_statements({"endwith"}, true);
    return s;
  }

  StmtPtr parse_print() {
    auto s = make_stmt(StmtKind::kPrint, next().offset);
    auto tuple = make_expr(ExprKind::kTuple, s->pos);
    while (cur().type != Tok::kBlockEnd) {
      if (!tuple->items.empty()) expect_op(",");
      tuple->items.push_back(parse_expression(true));
    }
    if (tuple->items.size() == 1) {
      s->expr = std::move(tuple->items[0]);
    } else {
      s->expr = std::move(tuple);  // jinja2 prints each; a concatenation of str() is equivalent
      s->expr->kind = ExprKind::kConcat;
    }
    return s;
  }

  StmtPtr parse_scope(const std::string& tag) {
    auto s = make_stmt(StmtKind::kScope, next().offset);
    if (tag == "block") {
      s->name = expect_name();
      skip_name("scoped");
      skip_name("required");
    } else if (tag == "autoescape") {
      parse_expression(true);
    }
    s->body = parse_statements({"end" + tag}, true);
    if (tag == "block" && cur().type == Tok::kName) next();  // {% endblock name %}
    return s;
  }

  // name | a, b | ns.attr (with_namespace)
  Target parse_assign_target(bool with_namespace, const std::vector<std::string>& extra_end) {
    Target t;
    t.pos = cur().offset;
    if (with_namespace && cur().type == Tok::kName && look().type == Tok::kOp && look().text == ".") {
      t.kind = Target::Kind::kNsAttr;
      t.name = next().text;
      next();
      t.attr = expect_name();
      return t;
    }
    // parse_tuple(simplified=True): primaries separated by commas; only names are assignable.
    std::vector<Target> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (tuple_end(extra_end)) break;
      items.push_back(parse_target_primary());
      if (is_op(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (items.empty()) fail("Expected an expression, got " + quoted(describe(cur())));
      return std::move(items[0]);
    }
    t.kind = Target::Kind::kTuple;
    t.items = std::move(items);
    return t;
  }

  Target parse_target_primary() {
    Target t;
    t.pos = cur().offset;
    if (is_op("(")) {
      next();
      t = parse_assign_target(false, {});
      expect_op(")");
      return t;
    }
    ExprPtr e = parse_primary();
    if (e->kind != ExprKind::kName) fail("can't assign to " + std::string(e->kind == ExprKind::kConst ? "'const'" : "'expression'"), t.pos);
    t.name = e->name;
    if (t.name == "true" || t.name == "false" || t.name == "none" || t.name == "True" || t.name == "False" ||
        t.name == "None")
      fail("can't assign to 'const'", t.pos);
    return t;
  }

  // ---- expressions
  ExprPtr make_expr(ExprKind kind, size_t pos) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    return e;
  }

  bool tuple_end(const std::vector<std::string>& extra_end) const {
    if (cur().type == Tok::kVarEnd || cur().type == Tok::kBlockEnd || is_op(")")) return true;
    if (cur().type == Tok::kName)
      for (const auto& e : extra_end)
        if (cur().text == e) return true;
    return false;
  }

  ExprPtr parse_tuple(bool simplified, bool with_condexpr, const std::vector<std::string>& extra_end,
                      bool explicit_parens) {
    size_t pos = cur().offset;
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty()) expect_op(",");
      if (tuple_end(extra_end)) break;
      args.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
      if (is_op(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parens) fail("Expected an expression, got " + quoted(describe(cur())));
    }
    auto t = make_expr(ExprKind::kTuple, pos);
    t->items = std::move(args);
    return t;
  }

  ExprPtr parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

  ExprPtr parse_condexpr() {
    ExprPtr e1 = parse_or();
    while (is_name("if")) {
      next();
      auto c = make_expr(ExprKind::kCond, e1->pos);
      c->b = parse_or();
      c->a = std::move(e1);
      if (skip_name("else")) c->c = parse_condexpr();
      e1 = std::move(c);
    }
    return e1;
  }

  // Compound expressions are located at their first character.
  ExprPtr binary(ExprKind kind, ExprPtr l, ExprPtr r, size_t /*op_pos*/, std::string op = "") {
    auto e = make_expr(kind, l->pos);
    e->a = std::move(l);
    e->b = std::move(r);
    e->name = std::move(op);
    return e;
  }

  // Left-associative levels: `word` (a keyword) or one of `ops` between operands of the next level.
  ExprPtr parse_level(ExprPtr (Parser::*operand)(), ExprKind kind, const char* word,
                      std::initializer_list<const char*> ops) {
    ExprPtr l = (this->*operand)();
    while (true) {
      bool match = word ? is_name(word) : std::any_of(ops.begin(), ops.end(), [&](const char* o) { return is_op(o); });
      if (!match) return l;
      const Token& t = next();
      l = binary(kind, std::move(l), (this->*operand)(), t.offset, t.text);
    }
  }
  ExprPtr parse_or() { return parse_level(&Parser::parse_and, ExprKind::kOr, "or", {}); }
  ExprPtr parse_and() { return parse_level(&Parser::parse_not, ExprKind::kAnd, "and", {}); }
  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      auto e = make_expr(ExprKind::kNot, next().offset);
      e->a = parse_not();
      return e;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    size_t pos = cur().offset;
    ExprPtr first = parse_math1();
    std::vector<std::string> ops;
    std::vector<ExprPtr> operands;
    while (true) {
      if (cur().type == Tok::kOp && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                     cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
        ops.push_back(next().text);
      } else if (is_name("in")) {
        next();
        ops.push_back("in");
      } else if (is_name("not") && look().type == Tok::kName && look().text == "in") {
        next();
        next();
        ops.push_back("notin");
      } else {
        break;
      }
      operands.push_back(parse_math1());
    }
    if (ops.empty()) return first;
    auto e = make_expr(ExprKind::kCompare, pos);
    e->items.push_back(std::move(first));
    for (auto& o : operands) e->items.push_back(std::move(o));
    e->ops = std::move(ops);
    return e;
  }
  ExprPtr parse_math1() { return parse_level(&Parser::parse_concat, ExprKind::kBinary, nullptr, {"+", "-"}); }
  ExprPtr parse_concat() {
    size_t pos = cur().offset;
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto e = make_expr(ExprKind::kConcat, pos);
    e->items.push_back(std::move(first));
    while (skip_op("~")) e->items.push_back(parse_math2());
    return e;
  }
  ExprPtr parse_math2() {
    return parse_level(&Parser::parse_pow, ExprKind::kBinary, nullptr, {"*", "/", "//", "%"});
  }
  ExprPtr parse_pow() { return parse_level(&Parser::parse_unary_filtered, ExprKind::kBinary, nullptr, {"**"}); }
  ExprPtr parse_unary_filtered() { return parse_unary(true); }
  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const Token& t = next();
      node = make_expr(t.text == "-" ? ExprKind::kNeg : ExprKind::kPos, t.offset);
      node->a = parse_unary(false);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    size_t pos = t.offset;
    if (t.type == Tok::kName) {
      next();
      auto e = make_expr(ExprKind::kConst, pos);
      if (t.text == "true" || t.text == "True") e->value = Value(true);
      else if (t.text == "false" || t.text == "False") e->value = Value(false);
      else if (t.text == "none" || t.text == "None") e->value = Value::none();
      else {
        e->kind = ExprKind::kName;
        e->name = t.text;
        for (Stmt* m : open_macros_) {
          m->uses_caller |= t.text == "caller";
          m->uses_varargs |= t.text == "varargs";
          m->uses_kwargs |= t.text == "kwargs";
        }
      }
      return e;
    }
    if (t.type == Tok::kString) {
      std::string s;
      while (cur().type == Tok::kString) s += next().text;
      auto e = make_expr(ExprKind::kConst, pos);
      e->value = Value(std::move(s));
      return e;
    }
    if (t.type == Tok::kInt || t.type == Tok::kFloat) {
      next();
      auto e = make_expr(ExprKind::kConst, pos);
      e->value = t.type == Tok::kInt ? Value(t.int_value) : Value(t.float_value);
      return e;
    }
    if (is_op("(")) {
      next();
      ExprPtr e = parse_tuple(false, true, {}, true);
      expect_op(")");
      return e;
    }
    if (is_op("[")) {
      next();
      auto e = make_expr(ExprKind::kList, pos);
      while (!is_op("]")) {
        if (!e->items.empty()) expect_op(",");
        if (is_op("]")) break;
        e->items.push_back(parse_expression(true));
      }
      expect_op("]");
      return e;
    }
    if (is_op("{")) {
      next();
      auto e = make_expr(ExprKind::kDict, pos);
      while (!is_op("}")) {
        if (!e->items.empty()) expect_op(",");
        if (is_op("}")) break;
        e->items.push_back(parse_expression(true));
        expect_op(":");
        e->items.push_back(parse_expression(true));
      }
      expect_op("}");
      return e;
    }
    fail("unexpected " + quoted(describe(t)));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".") || is_op("[")) node = parse_subscript(std::move(node));
      else if (is_op("(")) node = parse_call(std::move(node));
      else return node;
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        next();
        node = parse_one_filter(std::move(node));
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const Token& t = next();
    if (t.text == ".") {
      const Token& attr = next();
      if (attr.type == Tok::kName) {
        auto e = make_expr(ExprKind::kGetattr, node->pos);
        e->a = std::move(node);
        e->name = attr.text;
        return e;
      }
      if (attr.type != Tok::kInt) fail("expected name or number", attr.offset);
      auto e = make_expr(ExprKind::kGetitem, node->pos);
      e->a = std::move(node);
      e->b = make_expr(ExprKind::kConst, attr.offset);
      e->b->value = Value(attr.int_value);
      return e;
    }
    auto e = make_expr(ExprKind::kGetitem, node->pos);
    e->a = std::move(node);
    std::vector<ExprPtr> args;
    while (!is_op("]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed());
    }
    expect_op("]");
    if (args.size() == 1) {
      e->b = std::move(args[0]);
    } else {
      e->b = make_expr(ExprKind::kTuple, t.offset);
      e->b->items = std::move(args);
    }
    return e;
  }

  ExprPtr parse_subscribed() {
    size_t pos = cur().offset;
    ExprPtr start, stop, step;
    if (!is_op(":")) {
      ExprPtr e = parse_expression(true);
      if (!is_op(":")) return e;
      start = std::move(e);
    }
    next();  // ':'
    if (!is_op(":") && !is_op("]") && !is_op(",")) stop = parse_expression(true);
    if (skip_op(":") && !is_op("]") && !is_op(",")) step = parse_expression(true);
    auto s = make_expr(ExprKind::kSlice, pos);
    s->a = std::move(start);
    s->b = std::move(stop);
    s->c = std::move(step);
    return s;
  }

  void parse_call_args(Expr& e) {
    size_t pos = cur().offset;
    expect_op("(");
    bool require_comma = false;
    auto ensure = [&](bool ok) {
      if (!ok) fail("invalid syntax for function call expression", pos);
    };
    while (!is_op(")")) {
      if (require_comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (is_op("*")) {
        ensure(!e.dyn_args && !e.dyn_kwargs);
        next();
        e.dyn_args = parse_expression(true);
      } else if (is_op("**")) {
        ensure(!e.dyn_kwargs);
        next();
        e.dyn_kwargs = parse_expression(true);
      } else if (cur().type == Tok::kName && look().type == Tok::kOp && look().text == "=") {
        ensure(!e.dyn_kwargs);
        std::string key = next().text;
        next();
        e.kwargs.emplace_back(key, parse_expression(true));
      } else {
        ensure(!e.dyn_args && !e.dyn_kwargs && e.kwargs.empty());
        e.items.push_back(parse_expression(true));
      }
      require_comma = true;
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr node) {
    auto e = make_expr(ExprKind::kCall, node->pos);
    e->a = std::move(node);
    parse_call_args(*e);
    return e;
  }

  std::string dotted_name() {
    std::string name = expect_name();
    while (is_op(".")) {
      next();
      name += "." + expect_name();
    }
    return name;
  }

  ExprPtr parse_one_filter(ExprPtr node) {
    auto e = make_expr(ExprKind::kFilter, node ? node->pos : cur().offset);
    e->a = std::move(node);
    e->name = dotted_name();
    if (is_op("(")) parse_call_args(*e);
    return e;
  }

  ExprPtr parse_test(ExprPtr node) {
    next();  // 'is'
    bool negated = skip_name("not");
    auto e = make_expr(ExprKind::kTest, node->pos);
    e->a = std::move(node);
    e->name = dotted_name();
    const Token& t = cur();
    if (is_op("(")) {
      parse_call_args(*e);
    } else if ((t.type == Tok::kName || t.type == Tok::kString || t.type == Tok::kInt || t.type == Tok::kFloat ||
                is_op("(") || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail("You cannot chain multiple tests with is");
      e->items.push_back(parse_postfix(parse_primary()));
    }
    if (!negated) return e;
    auto n = make_expr(ExprKind::kNot, e->pos);
    n->a = std::move(e);
    return n;
  }

  std::vector<Token> toks_;
  size_t i_ = 0;
  const SourceMap& map_;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::vector<std::string> tag_stack_;
  std::vector<std::vector<std::string>> end_stack_;
  std::vector<Stmt*> open_macros_;  // macros whose body is being parsed
};

}  // namespace

std::shared_ptr<const Program> parse_program(const std::string& source, const std::string& name) {
  auto program = std::make_shared<Program>();
  program->source = normalize_source(source);
  program->name = name;
  SourceMap map(name, program->source);
  Parser parser(tokenize(program->source, map), map);
  program->body = parser.parse_template();
  return program;
}

}  // namespace autolm::jinja
