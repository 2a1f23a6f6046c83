// Jinja syntax tree: expressions and statements as the parser builds them (jinja2.nodes, reduced).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/value.h"

namespace autolm::jinja {

enum class ExprKind : uint8_t {
  kConst,    // value
  kName,     // name
  kGetattr,  // a.name
  kGetitem,  // a[b]
  kSlice,    // a:b:c inside [] (null parts are omitted)
  kList,     // [items]
  kTuple,    // (items)
  kDict,     // {items[0]: items[1], ...}
  kBinary,   // a op b, op in name: + - * / // % **
  kConcat,   // items joined with ~
  kCompare,  // items[0] ops[0] items[1] ops[1] items[2]…
  kNot, kNeg, kPos,  // unary on a
  kAnd, kOr,         // a and/or b
  kCond,     // a if b else c (c may be null)
  kFilter,   // a | name(args) ; a is null inside {% filter %} and block set
  kTest,     // a is name(args)
  kCall,     // a(args)
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind;
  size_t pos = 0;  // source offset for messages
  Value value;
  std::string name;
  ExprPtr a, b, c;
  std::vector<ExprPtr> items;  // list/tuple/dict/concat/compare operands, call/filter/test positional args
  std::vector<std::string> ops;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  ExprPtr dyn_args, dyn_kwargs;  // *args, **kwargs in calls
};

// Assignment target: a name, a tuple of targets, or ns.attr.
struct Target {
  enum class Kind : uint8_t { kName, kTuple, kNsAttr } kind = Kind::kName;
  std::string name, attr;
  std::vector<Target> items;
  size_t pos = 0;
};

enum class StmtKind : uint8_t {
  kData, kPrint, kIf, kFor, kSet, kSetBlock, kMacro, kCallBlock, kFilterBlock, kWith, kBreak, kContinue,
  kScope,  // a body rendered in place ({% generation %})
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  StmtKind kind;
  size_t pos = 0;
  std::string text;       // kData
  ExprPtr expr;           // print value, for iterable, set value, call-block call
  ExprPtr cond;           // for-loop filter
  Target target;          // for/set target
  std::vector<std::pair<ExprPtr, Body>> branches;  // if / elif
  Body body, else_body;
  bool recursive = false;
  std::string name;                    // macro name
  std::vector<std::string> params;     // macro / call-block parameters
  std::vector<ExprPtr> defaults;       // aligned with params; null = required
  std::vector<ExprPtr> filters;        // block set / filter block: kFilter chain applied in order
  std::vector<std::pair<Target, ExprPtr>> assigns;  // with
  bool uses_caller = false, uses_varargs = false, uses_kwargs = false;  // macro body mentions them
};

struct Program {
  std::string source;  // normalized
  std::string name;
  Body body;
};

}  // namespace autolm::jinja
