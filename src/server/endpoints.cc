// /tokenize, /detokenize and the model card (endpoints.h).
#include "server/endpoints.h"

#include <algorithm>

namespace autolm::server {

namespace {

[[noreturn]] void bad(const std::string& field, const std::string& why, const char* code = "invalid_value") {
  throw ApiError(400, "Invalid value for '" + field + "': " + why, field, code);
}

bool flag(const ojson& req, const char* key, bool fallback) {
  auto it = req.find(key);
  if (it == req.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) bad(key, "expected a boolean.", "invalid_type");
  return it->get<bool>();
}

// The longest prompt + reply (causal) or the longest encoder input (seq2seq); 0 = unbounded.
int64_t max_model_len(const Engine& e) { return e.seq2seq ? e.encoder_limit : e.context; }

std::string token_text(const Tokenizer& tok, int32_t id) {
  const int32_t ids[1] = {id};
  return tok.decode(ids, false);
}

}  // namespace

ojson model_card(const Engine& engine) {
  ojson card = {{"id", engine.name}, {"object", "model"}, {"created", engine.created}, {"owned_by", "autolm"},
                {"root", engine.name}};
  const int64_t len = max_model_len(engine);
  card["max_model_len"] = len > 0 ? ojson(len) : ojson(nullptr);
  return card;
}

ojson tokenize(const Engine& engine, const std::string& body) {
  const ojson req = parse_body(engine, body);
  const Tokenizer& tok = *engine.tokenizer;
  const int64_t limit = engine.limits.max_prompt_tokens;
  auto check_size = [&](const std::string& field, size_t bytes) {
    // A token is at least one byte of text: the text bounds the work before it is encoded.
    if (int64_t(bytes) > 64 * limit)
      bad(field, "the text is " + std::to_string(bytes) + " bytes, more than this server tokenizes at once (" +
                     std::to_string(64 * limit) + " bytes, 64 × --max-prompt-tokens).", "limit_exceeded");
  };
  if (req.contains("content")) {  // llama-server
    const ojson& c = req["content"];
    if (!c.is_string()) bad("content", "expected a string.", "invalid_type");
    check_size("content", c.get_ref<const std::string&>().size());
    const std::vector<int32_t> ids = tok.encode(c.get<std::string>(), flag(req, "add_special", false));
    ojson tokens = ojson::array();
    const bool pieces = flag(req, "with_pieces", false);
    for (int32_t id : ids) {
      if (pieces) tokens.push_back({{"id", id}, {"piece", token_text(tok, id)}});
      else tokens.push_back(id);
    }
    return {{"tokens", std::move(tokens)}};
  }
  std::vector<int32_t> ids;
  if (req.contains("messages")) {
    ids = chat_prompt_ids(engine, req, flag(req, "add_generation_prompt", true));
  } else if (req.contains("prompt")) {
    const ojson& p = req["prompt"];
    if (!p.is_string()) bad("prompt", "expected a string.", "invalid_type");
    check_size("prompt", p.get_ref<const std::string&>().size());
    ids = tok.encode(p.get<std::string>(), flag(req, "add_special_tokens", true));
  } else {
    throw ApiError(400, "Missing required parameter: 'prompt' (or 'messages', or llama-server's 'content').", "prompt",
                   "missing_required_parameter");
  }
  ojson strs = nullptr;
  if (flag(req, "return_token_strs", false)) {
    strs = ojson::array();
    for (int32_t id : ids) strs.push_back(tok.id_to_token(id));
  }
  const int64_t len = max_model_len(engine);
  return {{"count", ids.size()},
          {"max_model_len", len > 0 ? ojson(len) : ojson(nullptr)},
          {"tokens", ids},
          {"token_strs", std::move(strs)}};
}

ojson detokenize(const Engine& engine, const std::string& body) {
  const ojson req = parse_body(engine, body);
  auto it = req.find("tokens");
  if (it == req.end() || it->is_null())
    throw ApiError(400, "Missing required parameter: 'tokens'.", "tokens", "missing_required_parameter");
  if (!it->is_array()) bad("tokens", "expected an array of token ids.", "invalid_type");
  if (int64_t(it->size()) > engine.limits.max_prompt_tokens)
    bad("tokens", std::to_string(it->size()) + " tokens, more than this server's limit of " +
                      std::to_string(engine.limits.max_prompt_tokens) + " (autolm serve --max-prompt-tokens).",
        "limit_exceeded");
  const int64_t vocab = engine.model->config().vocab_size;
  std::vector<int32_t> ids;
  for (const auto& v : *it) {
    if (!v.is_number_integer()) bad("tokens", "expected an array of token ids (integers).", "invalid_type");
    const int64_t id = v.get<int64_t>();
    if (id < 0 || id > INT32_MAX || (vocab > 0 && id >= vocab))
      bad("tokens", "token id " + std::to_string(id) + " is outside the vocabulary (size " + std::to_string(vocab) + ").");
    ids.push_back(static_cast<int32_t>(id));
  }
  const std::string text = engine.tokenizer->decode(ids, false);
  return {{"prompt", text}, {"content", text}};
}

}  // namespace autolm::server
