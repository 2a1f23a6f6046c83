// Fuzz target: a Jinja template source → JinjaTemplate (parse), then render with the
// variables a chat template sees. Render limits are lowered so that each input stays fast;
// exceeding them must be an Error, never a hang or an unbounded allocation.
#include "autolm/jinja.h"
#include "fuzz_common.h"

using namespace autolm;

namespace {

const nlohmann::ordered_json& variables() {
  static const nlohmann::ordered_json v = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are terse."},
      {"role": "user", "content": "Hello!"},
      {"role": "assistant", "content": "Hi.", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]},
      {"role": "tool", "content": "42"},
      {"role": "user", "content": [{"type": "text", "text": "part"}, {"type": "image"}]}
    ],
    "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}}],
    "documents": null,
    "add_generation_prompt": true,
    "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": null,
    "n": 3, "f": 2.5, "big": 9223372036854775807, "neg": -9223372036854775808, "s": "a\u00e9\u4f60\ud83d\ude00",
    "list": [1, [2, [3, [4]]], {"k": "v"}], "obj": {"a": 1, "b": {"c": [true, false, null]}}
  })");
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::guarded([&] {
    JinjaTemplate t(std::string(fuzz::as_text(data, size)), "fuzz.jinja");
    JinjaRenderOptions options;
    options.now = 1721984703;  // fixed: strftime_now() must not make runs differ
    options.max_iterations = 100'000;
    options.max_output = size_t{1} << 20;
    t.render(variables(), options);
  });
  return 0;
}
