// Fuzz target: an HTTP request body → the OpenAI request parser (src/server/openai.h), as
// /v1/completions and /v1/chat/completions receive it, for a causal model with a chat
// template (the bundled chat-tiny demo) and a seq2seq one (t5-numbers). Parsing validates
// the whole request and tokenizes the prompt without running the model. A refusal is an
// ApiError (HTTP 4xx) or an autolm::Error.
#include "autolm/auto.h"
#include "fuzz_common.h"
#include "server/openai.h"

using namespace autolm;

namespace {

const std::vector<std::unique_ptr<server::Engine>>& engines() {
  static const std::vector<std::unique_ptr<server::Engine>> v = [] {
    std::vector<std::unique_ptr<server::Engine>> out;
    for (const char* name : {"chat-tiny", "t5-numbers"}) {
      const std::string dir = fuzz::source_dir() + "/models/" + name;
      out.push_back(std::make_unique<server::Engine>(load_model(dir), AutoTokenizer::from_pretrained(dir), name));
    }
    return out;
  }();
  return v;
}

template <typename F>
void parse(F&& f) {
  fuzz::guarded([&] {
    try {
      f();
    } catch (const server::ApiError& e) {
      // The server turns these into error bodies; 5xx would mean the request broke something.
      if (e.status >= 500 && !fuzz::lenient()) fuzz::finding("ApiError with a 5xx status", e.what());
    }
  });
}

}  // namespace

// Loads the fixed inputs once, before libFuzzer starts timing units (-timeout).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  engines();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(fuzz::as_text(data, size));
  for (const auto& engine : engines()) {
    parse([&] { server::parse_completion_request(*engine, body); });
    parse([&] { server::parse_chat_request(*engine, body); });
  }
  return 0;
}
