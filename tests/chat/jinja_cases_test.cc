// Data-driven Jinja semantics: each case in jinja_cases.json holds a template, its variables, and what
// jinja2 3.1.6 (in transformers' sandboxed environment) rendered, or the error message it raised.
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <sstream>

#include "autolm/error.h"
#include "autolm/jinja.h"

namespace {

using ojson = nlohmann::ordered_json;

const ojson& cases() {
  static const ojson all = [] {
    std::ifstream in(std::string(AUTOLM_SOURCE_DIR) + "/tests/chat/jinja_cases.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return ojson::parse(ss.str())["cases"];
  }();
  return all;
}

// The moment the reference used for strftime_now: 2024-07-26 09:05:03 local time.
std::time_t reference_now() {
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 6;
  tm.tm_mday = 26;
  tm.tm_hour = 9;
  tm.tm_min = 5;
  tm.tm_sec = 3;
  tm.tm_isdst = -1;
  return std::mktime(&tm);
}

class JinjaCase : public ::testing::TestWithParam<size_t> {};

TEST_P(JinjaCase, MatchesJinja2) {
  const ojson& c = cases()[GetParam()];
  const std::string tpl = c["template"].get<std::string>();
  SCOPED_TRACE("template: " + tpl);
  autolm::JinjaRenderOptions options;
  options.now = reference_now();
  if (c.contains("expected")) {
    autolm::JinjaTemplate t(tpl, c["name"].get<std::string>());
    EXPECT_EQ(t.render(c["vars"], options), c["expected"].get<std::string>());
    return;
  }
  const std::string want = c["error"].get<std::string>();
  try {
    autolm::JinjaTemplate t(tpl, c["name"].get<std::string>());
    std::string out = t.render(c["vars"], options);
    ADD_FAILURE() << "expected an error containing \"" << want << "\", rendered: " << out;
  } catch (const autolm::Error& e) {
    EXPECT_EQ(e.kind(), autolm::ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << "got: " << e.what() << "\nwant: " << want;
  }
}

std::string case_name(const ::testing::TestParamInfo<size_t>& info) {
  return cases()[info.param]["name"].get<std::string>();
}

INSTANTIATE_TEST_SUITE_P(Jinja2Reference, JinjaCase, ::testing::Range<size_t>(0, cases().size()), case_name);

}  // namespace
