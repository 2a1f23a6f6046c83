// Cost of the structured-output token mask per decode step (docs/PERFORMANCE.md "Constrained
// decoding"): builds the vocabulary index of a tokenizer, then walks a fixed JSON text token by
// token (as the tokenizer encodes it) and times mask() at every step, by kind of position.
//   autolm_grammar_mask TOKENIZER_DIR_OR_JSON [REPEATS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "autolm/error.h"
#include "autolm/structured_output.h"
#include "autolm/tokenizer.h"

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace autolm;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s TOKENIZER_DIR_OR_JSON [REPEATS]\n", argv[0]);
    return 2;
  }
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  try {
    const std::string path = argv[1];
    auto tok = std::filesystem::is_directory(path) ? AutoTokenizer::from_pretrained(path) : Tokenizer::from_file(path);
    double t0 = now_ms();
    auto vocab = make_token_vocabulary(tok->token_bytes());
    std::printf("vocabulary: %lld tokens, index built in %.1f ms\n", (long long)tok->vocab_size(), now_ms() - t0);

    const auto schema = nlohmann::ordered_json::parse(R"({"type":"object","properties":{
        "name":{"type":"string"}, "age":{"type":"integer"}, "email":{"type":"string","maxLength":40},
        "tags":{"type":"array","items":{"type":"string"}}, "score":{"type":"number"},
        "role":{"enum":["admin","user","guest"]}, "address":{"type":"object","properties":{
        "street":{"type":"string"},"city":{"type":"string"}},"required":["street","city"]}},
        "required":["name","age","email","tags","score","role","address"]})");
    const std::string text =
        R"({"name": "Ada Lovelace, Countess of Lovelace", "age": 36, "email": "ada@example.org", )"
        R"("tags": ["mathematics", "analytical engine", "poetry \"science\""], "score": 98.25, "role": "admin", )"
        R"("address": {"street": "12 St James's Square", "city": "London"}})";
    const std::vector<int32_t> ids = tok->encode(text, false);
    const std::vector<int64_t> eos = {tok->eos_token_id().value_or(0)};
    t0 = now_ms();
    auto constraint = json_schema_constraint(schema, vocab);
    std::printf("schema compiled in %.3f ms; text: %zu bytes, %zu tokens\n", now_ms() - t0, text.size(), ids.size());

    std::vector<float> scores(static_cast<size_t>(tok->vocab_size()) + 256, 0.0f);
    for (const char* mode : {"json_schema", "json_object"}) {
    if (std::string(mode) == "json_object") constraint = json_object_constraint(vocab);
    std::vector<double> per_step(ids.size() + 1, 1e30);
    for (int rep = 0; rep < repeats; ++rep) {
      auto state = constraint->start(eos);
      for (size_t i = 0; i <= ids.size(); ++i) {
        std::fill(scores.begin(), scores.end(), 0.0f);
        const double s = now_ms();
        state->mask(scores);
        per_step[i] = std::min(per_step[i], now_ms() - s);
        if (i < ids.size()) {
          if (scores[ids[i]] != 0.0f) {
            std::fprintf(stderr, "token %zu (%d) of the text was masked: bug\n", i, ids[i]);
            return 1;
          }
          state->advance(ids[i]);
        }
      }
    }
    std::vector<double> sorted = per_step;
    std::sort(sorted.begin(), sorted.end());
    double total = 0;
    for (double v : per_step) total += v;
    std::printf("%s: mask per step (best of %d): mean %.3f ms, median %.3f ms, p90 %.3f ms, max %.3f ms\n", mode,
                repeats, total / per_step.size(), sorted[sorted.size() / 2], sorted[sorted.size() * 9 / 10],
                sorted.back());
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
