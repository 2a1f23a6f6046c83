// Jinja engine behaviour that the reference table cannot show: error locations, limits that keep
// runaway templates from crashing the process, parse-once/render-many, and engine-level options.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "autolm/error.h"
#include "autolm/jinja.h"

namespace {

using autolm::Error;
using autolm::ErrorKind;
using autolm::JinjaTemplate;
using ojson = nlohmann::ordered_json;

// Message of the Error that parsing (and then rendering) `src` throws; "" if none.
std::string error_of(const std::string& src, const ojson& vars = ojson::object(),
                     const autolm::JinjaRenderOptions& options = {}) {
  try {
    JinjaTemplate t(src, "tpl.jinja");
    t.render(vars, options);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << e.what();
    return e.what();
  }
  return "";
}

TEST(JinjaErrors, SyntaxErrorsNameSourceLineAndColumn) {
  EXPECT_EQ(error_of("line1\n{{ foo( }}"), "tpl.jinja:2:9: unexpected '}', expected ')'");
  EXPECT_EQ(error_of("{{ 1 + }}"), "tpl.jinja:1:8: unexpected 'end of print statement'");
  EXPECT_EQ(error_of("{% for %}"), "tpl.jinja:1:8: Expected an expression, got 'end of statement block'");
  EXPECT_EQ(error_of("a\n\n  {% endfor %}"), "tpl.jinja:3:6: Encountered unknown tag 'endfor'.");
  EXPECT_EQ(error_of("{% if x %}\n{% endfor %}"),
            "tpl.jinja:2:4: Encountered unknown tag 'endfor'. Jinja was looking for the following tags: 'elif' or "
            "'else' or 'endif'. The innermost block that needs to be closed is 'if'.");
  EXPECT_EQ(error_of("{% if x %}\nabc"),
            "tpl.jinja:2:4: Unexpected end of template. Jinja was looking for the following tags: 'elif' or 'else' "
            "or 'endif'. The innermost block that needs to be closed is 'if'.");
  EXPECT_EQ(error_of("{% do x %}"), "tpl.jinja:1:4: Encountered unknown tag 'do'.");
  EXPECT_EQ(error_of("x {# open"), "tpl.jinja:1:3: Missing end of comment tag");
  EXPECT_EQ(error_of("{% raw %} open"), "tpl.jinja:1:10: Missing end of raw directive");
  EXPECT_EQ(error_of("{{ 'abc }}"), "tpl.jinja:1:4: unexpected char \"'\"");
  EXPECT_EQ(error_of("{{ a b }}"), "tpl.jinja:1:6: expected token 'end of print statement', got 'b'");
  EXPECT_EQ(error_of("{% break %}"), "tpl.jinja:1:4: 'break' outside loop");
  EXPECT_EQ(error_of("{{ x"), "tpl.jinja:1:5: unexpected end of template, expected '}}'");
  EXPECT_EQ(error_of("{% include 'x' %}"),
            "tpl.jinja:1:4: tag 'include' needs a template loader; chat templates are self-contained");
  // Columns count characters, not bytes.
  EXPECT_EQ(error_of("é{{ )"), "tpl.jinja:1:5: unexpected ')'");
}

TEST(JinjaErrors, RuntimeErrorsNameTheExpression) {
  EXPECT_EQ(error_of("ok\n  {{ user.name }}"), "tpl.jinja:2:6: 'user' is undefined");
  EXPECT_EQ(error_of("{{ 1 // 0 }}"), "tpl.jinja:1:4: integer division or modulo by zero");
  EXPECT_EQ(error_of("{{ messages[0].content + 1 }}", {{"messages", {{{"content", "x"}}}}}),
            "tpl.jinja:1:4: can only concatenate str (not \"int\") to str");
}

TEST(JinjaErrors, RaiseExceptionMessageIsUnchanged) {
  std::string src = "{% if messages|length > 1 %}{{ raise_exception('Only one message, please: ' ~ messages|length) }}{% endif %}ok";
  EXPECT_EQ(JinjaTemplate(src).render({{"messages", {1}}}), "ok");
  EXPECT_EQ(error_of(src, {{"messages", {1, 2}}}), "Only one message, please: 2");
}

TEST(JinjaLimits, RunawayRecursionIsAnErrorNotACrash) {
  std::string msg = error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  EXPECT_NE(msg.find("maximum recursion depth exceeded"), std::string::npos) << msg;
  msg = error_of("{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}");
  EXPECT_NE(msg.find("maximum recursion depth exceeded"), std::string::npos) << msg;
  msg = error_of("{% macro f() %}{% call f() %}x{% endcall %}{{ caller() }}{% endmacro %}{% call f() %}y{% endcall %}");
  EXPECT_NE(msg.find("maximum recursion depth exceeded"), std::string::npos) << msg;
  autolm::JinjaRenderOptions shallow;
  shallow.max_depth = 3;
  EXPECT_EQ(JinjaTemplate("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{% endif %}.{% endmacro %}{{ f(2) }}").render({}, shallow), "...");
  EXPECT_NE(error_of("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{% endif %}.{% endmacro %}{{ f(3) }}", {}, shallow)
                .find("recursion"),
            std::string::npos);
}

TEST(JinjaLimits, DeepNestingIsASyntaxError) {
  std::string deep(5000, '(');
  EXPECT_NE(error_of("{{ " + deep + "1" + std::string(5000, ')') + " }}").find("nesting too deep"), std::string::npos);
  std::string ifs;
  for (int i = 0; i < 500; ++i) ifs += "{% if true %}";
  EXPECT_NE(error_of(ifs).find("nesting too deep"), std::string::npos);
  EXPECT_NE(error_of("{{ " + std::string(5000, '-') + "1 }}").find("nesting too deep"), std::string::npos);
  EXPECT_NE(error_of("{{ " + std::string(3000, '[') + std::string(3000, ']') + " }}").find("nesting too deep"),
            std::string::npos);
}

TEST(JinjaLimits, LoopAndOutputBudgets) {
  autolm::JinjaRenderOptions small;
  small.max_iterations = 1000;
  std::string msg = error_of("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", {}, small);
  EXPECT_NE(msg.find("loop iterations"), std::string::npos) << msg;
  small = {};
  small.max_output = 1000;
  msg = error_of("{% for i in range(1000) %}xx{% endfor %}", {}, small);
  EXPECT_NE(msg.find("size limit"), std::string::npos) << msg;
  msg = error_of("{{ 'x' * 100000 }}", {}, small);
  EXPECT_NE(msg.find("exceeded"), std::string::npos) << msg;
  EXPECT_NE(error_of("{{ 2 ** 64 }}").find("integer overflow"), std::string::npos);
}

TEST(JinjaLimits, DeepValuesAreErrorsNotCrashes) {
  ojson deep = 1;
  for (int i = 0; i < 3000; ++i) deep = ojson::array({std::move(deep)});
  EXPECT_NE(error_of("{{ x }}", {{"x", deep}}).find("nesting exceeds"), std::string::npos);
  // A template that nests a list in itself 2000 times.
  std::string msg = error_of("{% set ns = namespace(x=[]) %}{% for i in range(2000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}");
  EXPECT_NE(msg.find("nesting exceeds"), std::string::npos) << msg;
  // Objects nest without limit: a chain of 2000 namespaces still prints or fails cleanly.
  msg = error_of("{% set ns = namespace(x=none) %}{% for i in range(2000) %}{% set ns.x = namespace(x=ns.x) %}{% endfor %}{{ ns }}");
  EXPECT_NE(msg.find("maximum recursion depth"), std::string::npos) << msg;
  EXPECT_NE(error_of("{{ '{99999999999999999999999}'.format(1) }}"), "");
  // Long chains through objects and bound methods are built fine and freed without deep recursion.
  autolm::JinjaRenderOptions big;
  big.max_iterations = 2'000'000;
  EXPECT_EQ(JinjaTemplate("{% set ns = namespace(x=none) %}{% for i in range(100000) %}{% set ns.x = namespace(x=ns.x) %}{% endfor %}"
                          "{% set c = namespace(c=cycler(0)) %}{% for i in range(100000) %}{% set c.c = cycler(c.c) %}{% endfor %}"
                          "{% set ns.x = none %}{% set c.c = none %}"  // dropped mid-render
                          "{% set m = namespace(prev=none) %}{% for i in range(100000) %}{% set p = m.prev %}"
                          "{% macro f() %}{{ p }}{% endmacro %}{% set m.prev = f %}{% endfor %}{% set m.prev = none %}ok")
                .render({}, big),
            "ok");
  msg = error_of("{% set ns = namespace(d={}) %}{% for i in range(5000) %}{% set ns.d = {'get': ns.d.get} %}{% endfor %}");
  EXPECT_NE(msg.find("nesting exceeds"), std::string::npos) << msg;
}

TEST(JinjaTemplate, ParseOnceRenderMany) {
  JinjaTemplate t("{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}{{ suffix|default('') }}", "chat");
  EXPECT_EQ(t.name(), "chat");
  ojson messages = ojson::array();
  for (int i = 0; i < 3; ++i) {
    messages.push_back({{"role", "user"}, {"content", std::to_string(i)}});
    std::string want;
    for (int j = 0; j <= i; ++j) want += "user:" + std::to_string(j) + ";";
    EXPECT_EQ(t.render({{"messages", messages}}), want);
  }
  // Renders share nothing mutable: namespaces and sets start afresh each time.
  JinjaTemplate counter("{% set ns = namespace(n=0) %}{% for x in xs %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}");
  EXPECT_EQ(counter.render({{"xs", {1, 2}}}), "3");
  EXPECT_EQ(counter.render({{"xs", {1, 2}}}), "3");
}

TEST(JinjaTemplate, RendersConcurrently) {
  JinjaTemplate t("{% for i in range(n) %}{{ i }},{% endfor %}");
  std::vector<std::thread> threads;
  std::vector<std::string> out(8);
  for (int k = 0; k < 8; ++k)
    threads.emplace_back([&, k] { out[k] = t.render({{"n", 200 + k}}); });
  for (auto& th : threads) th.join();
  for (int k = 0; k < 8; ++k) {
    std::string want;
    for (int i = 0; i < 200 + k; ++i) want += std::to_string(i) + ",";
    EXPECT_EQ(out[k], want);
  }
}

TEST(JinjaTemplate, VariablesMustBeAnObject) {
  JinjaTemplate t("x");
  EXPECT_EQ(t.render(nullptr), "x");
  EXPECT_THROW(t.render(ojson::array()), Error);
}

TEST(JinjaTemplate, JsonNumbersKeepTheirType) {
  // ints stay ints (3, not 3.0) and floats stay floats (2.0), as json.loads gives them to Python;
  // integers beyond 64 bits become floats (Python would keep them exact).
  EXPECT_EQ(JinjaTemplate("{{ a }} {{ b }} {{ c }} {{ a / 2 }} {{ big }}").render(ojson::parse(R"({"a": 3, "b": 2.0, "c": -1e-7, "big": 18446744073709551615})")),
            "3 2.0 -1e-07 1.5 1.8446744073709552e+19");
}

}  // namespace
