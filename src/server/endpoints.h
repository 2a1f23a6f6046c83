// The server's utility endpoints, independent of HTTP: /tokenize and /detokenize (vLLM's and
// llama-server's request and response shapes) and the /v1/models card (with vLLM's max_model_len).
#pragma once

#include <string>

#include "server/openai.h"

namespace autolm::server {

// {"id", "object": "model", "created", "owned_by": "autolm", "root", "max_model_len"}.
ojson model_card(const Engine& engine);

// POST /tokenize. vLLM: {"prompt": text, "add_special_tokens": true} or {"messages", "tools",
// "add_generation_prompt": true, "chat_template_kwargs"} → {"count", "max_model_len", "tokens",
// "token_strs"}. llama-server: {"content": text, "add_special": false, "with_pieces": false} →
// {"tokens": [ids]} or, with pieces, {"tokens": [{"id", "piece"}]}. Errors are ApiError 400.
ojson tokenize(const Engine& engine, const std::string& body);

// POST /detokenize: {"tokens": [ids]} → {"prompt": text (vLLM), "content": text (llama-server)}.
ojson detokenize(const Engine& engine, const std::string& body);

}  // namespace autolm::server
