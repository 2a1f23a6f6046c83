// Real vendor chat templates (tests/data/chat/templates, sources in SOURCES.md) rendered by autolm against
// transformers 5.24's apply_chat_template over the conversations of tests/data/make_chat_template_refs.py:
// identical bytes, or an error where transformers raises (same message for the template's own
// raise_exception and for apply_chat_template's checks).
#include <gtest/gtest.h>
#include <zlib.h>

#include <ctime>
#include <fstream>
#include <sstream>

#include "autolm/chat.h"
#include "autolm/error.h"

namespace {

using ojson = nlohmann::ordered_json;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string kDir = std::string(AUTOLM_SOURCE_DIR) + "/tests/data/chat/";

// refs.json.gz, read with zlib (gzread passes uncompressed files through as they are).
std::string read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path);
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return out;
}

const ojson& refs() {
  static const ojson all = ojson::parse(read_gz(kDir + "refs.json.gz"));
  return all;
}

std::time_t reference_now() {  // 2024-07-26 09:05:03 local time, as the generator pinned it
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

// apply_chat_template's keyword arguments, as ChatTemplateOptions: the named ones, the rest are variables.
autolm::ChatTemplateOptions options_for(const ojson& conv) {
  autolm::ChatTemplateOptions o;
  o.extra = ojson::object();
  o.now = reference_now();
  for (auto it = conv.begin(); it != conv.end(); ++it) {
    const std::string& k = it.key();
    const ojson& v = it.value();
    if (k == "messages") continue;
    if (k == "tools") o.tools = v;
    else if (k == "documents") o.documents = v;
    else if (k == "add_generation_prompt") o.add_generation_prompt = v.get<bool>();
    else if (k == "continue_final_message") o.continue_final_message = v.is_string() ? v.get<std::string>() : v.get<bool>() ? "content" : "";
    else o.extra[k] = v;
  }
  return o;
}

class VendorTemplateParity : public ::testing::TestWithParam<size_t> {};

TEST_P(VendorTemplateParity, MatchesTransformers) {
  const ojson& c = refs()["cases"][GetParam()];
  const std::string name = c["template"].get<std::string>();
  const ojson& conv = refs()["conversations"][c["conversation"].get<std::string>()];
  const ojson& special = refs()["templates"][name]["special_tokens"];
  autolm::ChatTemplate tpl(read_file(kDir + "templates/" + name + ".jinja"), name);
  const auto options = options_for(conv);
  if (c.contains("expected")) {
    EXPECT_EQ(tpl.render(conv["messages"], options, special), c["expected"].get<std::string>());
    return;
  }
  const std::string want = c["error"].get<std::string>(), type = c["error_type"].get<std::string>();
  try {
    std::string out = tpl.render(conv["messages"], options, special);
    ADD_FAILURE() << "transformers raises " << type << ": " << want << "\nautolm rendered: " << out;
  } catch (const autolm::Error& e) {
    EXPECT_EQ(e.kind(), autolm::ErrorKind::kInvalidInput);
    // raise_exception's message and apply_chat_template's ValueErrors are passed on unchanged.
    if (type == "TemplateError" || type == "ValueError") {
      EXPECT_NE(std::string(e.what()).find(want.substr(0, 120)), std::string::npos) << "got: " << e.what() << "\nwant: " << want;
    }
  }
}

std::string case_name(const ::testing::TestParamInfo<size_t>& info) {
  const ojson& c = refs()["cases"][info.param];
  std::string s = c["template"].get<std::string>() + "__" + c["conversation"].get<std::string>();
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Vendor, VendorTemplateParity, ::testing::Range<size_t>(0, refs()["cases"].size()), case_name);

}  // namespace
