// OpenAI logprobs shapes (logprobs_json.h). A token's text is its own decode (special tokens
// kept); `bytes` are that text's UTF-8 bytes. Log-probabilities of -inf (a token the model rules
// out entirely) are reported as -9999.0, OpenAI's convention, since JSON has no infinity.
#include "server/logprobs_json.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace autolm::server {

namespace {

using ojson = nlohmann::ordered_json;

std::string token_text(const Tokenizer& tok, int32_t id) {
  const int32_t ids[1] = {id};
  return tok.decode(ids, false);
}

double finite(float lp) { return std::isfinite(lp) ? double(lp) : -9999.0; }

ojson bytes_of(const std::string& s) {
  ojson b = ojson::array();
  for (unsigned char c : s) b.push_back(int(c));
  return b;
}

ojson chat_entry(const Tokenizer& tok, const TokenLogprob& t) {
  const std::string text = token_text(tok, t.token);
  return {{"token", text}, {"logprob", finite(t.logprob)}, {"bytes", bytes_of(text)}};
}

}  // namespace

ojson chat_logprobs(const Tokenizer& tok, std::span<const StepLogprobs> steps) {
  ojson content = ojson::array();
  for (const auto& s : steps) {
    ojson e = chat_entry(tok, s.chosen);
    ojson top = ojson::array();
    for (const auto& t : s.top) top.push_back(chat_entry(tok, t));
    e["top_logprobs"] = std::move(top);
    content.push_back(std::move(e));
  }
  return {{"content", std::move(content)}, {"refusal", nullptr}};
}

ojson completion_logprobs(const Tokenizer& tok, std::span<const StepLogprobs> steps, size_t& text_offset) {
  ojson tokens = ojson::array(), token_logprobs = ojson::array(), top = ojson::array(), offsets = ojson::array();
  for (const auto& s : steps) {
    const std::string text = token_text(tok, s.chosen.token);
    tokens.push_back(text);
    token_logprobs.push_back(finite(s.chosen.logprob));
    offsets.push_back(text_offset);
    text_offset += text.size();
    // A map token → logprob, as OpenAI's legacy shape (two ids with the same text share a key).
    ojson m = ojson::object();
    for (const auto& t : s.top) {
      const std::string k = token_text(tok, t.token);
      if (!m.contains(k)) m[k] = finite(t.logprob);
    }
    top.push_back(std::move(m));
  }
  return {{"tokens", std::move(tokens)},
          {"token_logprobs", std::move(token_logprobs)},
          {"top_logprobs", std::move(top)},
          {"text_offset", std::move(offsets)}};
}

}  // namespace autolm::server
