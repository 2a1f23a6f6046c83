// `autolm generate|chat --json-schema FILE / --json-object` run as a user would.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include "fixture_paths.h"
#include "generate/json_validator.h"

namespace autolm {
namespace {

using test::ojson;

struct Result {
  int code = -1;
  std::string out;
};

Result run(const std::string& args) {
  Result r;
  const std::string cmd = std::string(AUTOLM_CLI) + " " + args + " 2>&1 </dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name + "_" + std::to_string(::getpid());
  std::ofstream(path) << text;
  return path;
}

const char* kSchema = R"({"type":"object","properties":{"name":{"type":"string","maxLength":10},
  "n":{"type":"integer"},"tags":{"type":"array","items":{"enum":["x","y"]},"maxItems":2}},
  "required":["name","n","tags"]})";

TEST(GrammarCli, GenerateWithJsonSchema) {
  const std::string dir = test::fixture_path("demo/chat-tiny");
  const std::string schema_file = write_temp("schema.json", kSchema);
  const Result r = run("generate " + dir + " 'A record:' --json-schema " + schema_file +
                       " --max-new-tokens 200 --no-stream --do-sample --seed 4");
  ASSERT_EQ(r.code, 0) << r.out;
  const ojson schema = ojson::parse(kSchema);
  const ojson v = ojson::parse(r.out);
  EXPECT_EQ(test::validate(v, schema, schema), "") << r.out;
}

TEST(GrammarCli, ChatWithJsonObject) {
  const std::string dir = test::fixture_path("demo/chat-tiny");
  const std::string messages = write_temp("messages.json", R"([{"role":"user","content":"JSON please"}])");
  const Result r = run("chat " + dir + " --messages " + messages + " --json-object --max-new-tokens 200");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(ojson::parse(r.out).is_object()) << r.out;
}

TEST(GrammarCli, RefusedSchemaIsExitTwoNamingTheKeyword) {
  const std::string dir = test::fixture_path("demo/chat-tiny");
  const std::string bad = write_temp("bad.json", R"({"type":"object","properties":{"s":{"type":"string","pattern":"^a"}}})");
  const Result r = run("generate " + dir + " hi --json-schema " + bad);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("/properties/s/pattern"), std::string::npos) << r.out;
  const Result both = run("generate " + dir + " hi --json-object --json-schema " + bad);
  EXPECT_EQ(both.code, 2);
  const Result missing = run("generate " + dir + " hi --json-schema /nonexistent/schema.json");
  EXPECT_EQ(missing.code, 2) << missing.out;
}

}  // namespace
}  // namespace autolm
