// Hostile templates and variables (issue #11): every operation that grows a string or a list
// checks the limits BEFORE it allocates, loops over huge counts fail instead of hanging, long
// strings are shared rather than copied, and deep values fail before any recursion.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "autolm/chat.h"
#include "autolm/error.h"
#include "run_capped.h"
#include "autolm/jinja.h"

namespace {

using autolm::test::run_capped;

using autolm::Error;
using autolm::ErrorKind;
using autolm::JinjaTemplate;
using ojson = nlohmann::ordered_json;

constexpr size_t kCap = size_t{1536} << 20;  // far below what the unchecked operations allocated

// The Error message of rendering `src` (default limits), "" when it renders.
std::string error_of(const std::string& src, const ojson& vars = ojson::object(),
                     const autolm::JinjaRenderOptions& options = {}) {
  try {
    JinjaTemplate(src, "hostile.jinja").render(vars, options);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << e.what();
    return e.what();
  }
  return "";
}

TEST(JinjaHostile, GrowingStringsFailBeforeAllocating) {
  // Each of these asked for gigabytes (or overflowed a size) before the output limit applied.
  // Rendered with an 8 MiB output limit (the limit's value does not matter, the cap on the
  // process does: none may allocate the gigabytes it asks for) so the test stays quick.
  autolm::JinjaRenderOptions options;
  options.max_output = size_t{8} << 20;
  const char* templates[] = {
      "{{ 'ab' * 10**15 }}",
      "{{ 'ab' * 2**62 }}",  // the byte count overflows 64 bits
      "{{ 'x'|center(10**12) }}",
      "{{ 'x'.center(10**9, '€') }}",
      "{{ 'x'.ljust(10**12) }}",
      "{{ 'x'.rjust(10**12) }}",
      "{{ 'x'.zfill(10**12) }}",
      "{{ 'x'|indent(10**12, true) }}",
      "{{ ('a\n' * 100000)|indent(100000) }}",
      "{{ ('a' * 1000000)|replace('', 'b' * 10000) }}",
      "{{ ('a' * 100000).replace('a', 'b' * 100000) }}",
      "{{ ('a' * 100000).replace('', 'b' * 100000) }}",
      "{{ '{:>1000000000000}'.format(1) }}",
      "{{ '{:^1000000000000}'.format('x') }}",
      "{{ '{:.1000000000f}'.format(1.5) }}",
      "{{ '%1000000000000d' % 1 }}",
      "{{ '%-1000000000000s' % 'x' }}",
      "{{ [1]|tojson(indent=10**12) }}",
      "{{ [[[1]]]|tojson(indent='x' * 3000000) }}",
      "{% set s = 'x' * 100000 %}{{ ([s] * 100000)|string }}",
      "{% set s = 'x' * 100000 %}{{ ([s] * 100000)|join(',') }}",
      "{% set s = 'x' * 100000 %}{{ ','.join([s] * 100000) }}",
      "{% set s = 'x' * 100000 %}{{ ([s] * 100000)|tojson }}",
      "{% set s = 'x' * 100000 %}{{ {'k': [s] * 100000} }}",
      "{% set s = 'x' * 3000000 %}{{ s ~ s ~ s }}",
      "{% set s = '<' * 3000000 %}{{ s|e }}",
  };
  for (const char* src : templates) {
    SCOPED_TRACE(src);
    std::string msg;
    int code = run_capped(
        [&] {
          msg = error_of(src, ojson::object(), options);
          if (msg.empty()) throw std::runtime_error("rendered");
          throw Error(ErrorKind::kInvalidInput, msg);
        },
        kCap);
    EXPECT_EQ(code, 1) << "must fail with autolm::Error within " << (kCap >> 20) << " MiB";
  }
  // The messages name the template, where, and the limit (default 256 MiB).
  std::string msg = error_of("{{ 'ab' * 10**15 }}");
  EXPECT_EQ(run_capped([] { JinjaTemplate("{{ '{:.1000000000f}'.format(1.5) }}").render({}); }, kCap, 10), 1);
  EXPECT_NE(msg.find("hostile.jinja:1:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("exceeded 268435456 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("max_output"), std::string::npos) << msg;
  msg = error_of("{{ '{:99999999999999999999999}'.format(1) }}");
  EXPECT_NE(msg.find("Too many decimal digits"), std::string::npos) << msg;
}

TEST(JinjaHostile, LiveStringsAreBoundedInTotal) {
  // Each string is under the output limit, but a loop kept 1000 of them (256 GB) alive.
  std::string src =
      "{% set ns = namespace(l=[]) %}{% for i in range(1000) %}{% set ns.l = ns.l + [('x' * 2**27) ~ i] %}"
      "{% endfor %}{{ ns.l|length }}";
  int code = run_capped(
      [&] {
        std::string msg = error_of(src);
        if (msg.find("times the max_output limit") == std::string::npos) throw std::runtime_error(msg);
        throw Error(ErrorKind::kInvalidInput, msg);
      },
      kCap);
  EXPECT_EQ(code, 1);
  // Nested macro outputs count too: each level holds its own copy.
  autolm::JinjaRenderOptions small;
  small.max_output = 100000;
  EXPECT_NE(error_of("{% macro f(n) %}{{ 'x' * 90000 }}{% if n %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(50) }}", {}, small)
                .find("max_output"),
            std::string::npos);
}

TEST(JinjaHostile, SmallOutputLimitAppliesToEveryBuilder) {
  autolm::JinjaRenderOptions small;
  small.max_output = 1000;
  for (const char* src : {"{{ 'x' * 1001 }}", "{{ 'x'|center(1001) }}", "{{ ('x' * 600) ~ ('y' * 600) }}",
                          "{{ ['x' * 600, 'y' * 600]|join }}", "{{ ('<' * 400)|e }}", "{{ ('a' * 500)|replace('a', 'bbb') }}",
                          "{{ ('a\n' * 300)|indent(8) }}", "{{ ['x' * 600, 'y' * 600] }}", "{{ '%2000s' % 'x' }}"}) {
    SCOPED_TRACE(src);
    EXPECT_NE(error_of(src, {}, small).find("exceeded"), std::string::npos);
  }
  EXPECT_EQ(JinjaTemplate("{{ 'x' * 999 }}").render({}, small).size(), 999u);
}

TEST(JinjaHostile, HugeCountsFailInsteadOfLooping) {
  // Empty sequences times 10**18 used to loop 10**18 times.
  EXPECT_EQ(JinjaTemplate("[{{ '' * 10**18 }}]{{ ([] * 10**18)|length }}").render({}), "[]0");
  for (const char* src : {"{{ ([1] * 10**12)|length }}", "{{ ([1, 2] * 2**62)|length }}",
                          "{{ [1]|batch(10**18, 'y')|list|length }}", "{{ [1]|slice(10**18)|list|length }}"}) {
    SCOPED_TRACE(src);
    std::string msg;
    int code = run_capped(
        [&] {
          msg = error_of(src);
          if (!msg.empty()) throw Error(ErrorKind::kInvalidInput, msg);
        },
        kCap, 30);
    EXPECT_EQ(code, 1);
    EXPECT_NE(error_of(src).find("loop iterations"), std::string::npos) << error_of(src);
  }
  // range() lengths are computed without overflow: this is not a short range.
  EXPECT_NE(error_of("{{ range(-(2**62), 2**62)|length }}").find("Range too big"), std::string::npos);
  EXPECT_NE(error_of("{{ range(2**62, -(2**62), -1)|length }}").find("Range too big"), std::string::npos);
}

TEST(JinjaHostile, LongStringsAreSharedNotCopied) {
  // A 10 MB message placed in a list 300 times, and the list rebuilt each iteration: with a copy
  // per Value this was 3 GB live (and ~450 GB copied); shared, it is one string.
  ojson vars = {{"messages", ojson::array({{{"role", "user"}, {"content", std::string(10'000'000, 'a')}}})}};
  std::string src =
      "{% set ns = namespace(l=[]) %}{% for i in range(300) %}{% set c = messages[0].content %}"
      "{% set ns.l = ns.l + [c, messages[0]['content']] %}{% endfor %}{{ ns.l|length }} {{ (ns.l|last)|length }}";
  std::string out;
  int code = run_capped(
      [&] {
        out = JinjaTemplate(src).render(vars);
        if (out != "600 10000000") ::_exit(4);
      },
      size_t{768} << 20);
  EXPECT_EQ(code, 0);
}

TEST(JinjaHostile, BigObjectsAreLookedUpWithoutScanning) {
  // 200k keys looked up 200k times: a scan per lookup was 2*10^10 string compares.
  ojson d = ojson::object();
  for (int i = 0; i < 200000; ++i) d["k" + std::to_string(i)] = i % 2;
  std::string src =
      "{% set ns = namespace(n=0) %}{% for k in d %}{% if d[k] == 1 and d.get(k) == 1 %}{% set ns.n = ns.n + 1 %}"
      "{% endif %}{% endfor %}{{ ns.n }} {{ d['k199999'] }} {{ d.k3 }} {{ 'k5' in d }} {{ 'x' in d }}";
  EXPECT_EQ(JinjaTemplate(src).render({{"d", d}}), "100000 1 1 True False");
  // Keys set from a template on a big dict keep one entry each.
  EXPECT_EQ(JinjaTemplate("{% set x = dict(d, k0=5, new=1) %}{{ x|length }} {{ x.k0 }} {{ x.new }}").render({{"d", d}}),
            "200001 5 1");
}

TEST(JinjaHostile, IteratingAHugeStringIsChargedFirst) {
  autolm::JinjaRenderOptions small;
  small.max_iterations = 1000;
  ojson vars = {{"s", std::string(100'000, 'a')}};
  EXPECT_NE(error_of("{{ s|list|length }}", vars, small).find("loop iterations"), std::string::npos);
  EXPECT_NE(error_of("{% for c in s %}{% endfor %}", vars, small).find("loop iterations"), std::string::npos);
}

TEST(JinjaHostile, DeeplyNestedMessagesAreErrorsNotCrashes) {
  // Content that is a list nested 100k deep: refused before anything copies or recurses.
  ojson deep = "x";
  for (int i = 0; i < 100000; ++i) deep = ojson::array({std::move(deep)});
  ojson messages = ojson::array({{{"role", "user"}, {"content", std::move(deep)}}});
  try {
    autolm::render_chat_template("{{ messages }}", messages, {}, ojson::object());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("nesting exceeds"), std::string::npos) << e.what();
  }
  ojson shallower = "x";  // JinjaTemplate::render's own variables (built shallower: the test copies them)
  for (int i = 0; i < 5000; ++i) shallower = ojson::array({std::move(shallower)});
  ojson vars = ojson::object();
  vars["x"] = std::move(shallower);
  EXPECT_NE(error_of("{{ x }}", vars).find("nesting exceeds"), std::string::npos);
  // Deep template expressions are syntax errors (parser depth), not stack overflows.
  EXPECT_NE(error_of("{{ " + std::string(100000, '[') + std::string(100000, ']') + " }}").find("nesting too deep"),
            std::string::npos);
  std::string calls;
  for (int i = 0; i < 20000; ++i) calls += "f(";
  EXPECT_NE(error_of("{{ " + calls + "1" + std::string(20000, ')') + " }}").find("nesting too deep"), std::string::npos);
  std::string fors;
  for (int i = 0; i < 20000; ++i) fors += "{% for x in [1] %}";
  EXPECT_NE(error_of(fors).find("nesting too deep"), std::string::npos);
}

}  // namespace
