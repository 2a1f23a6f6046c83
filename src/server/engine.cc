// Engine: what requests share per model, resolved once at load (limits, chat templates, the
// tool-call format, the token vocabulary for constrained decoding).
#include <ctime>

#include "autolm/chat.h"
#include "io/json_file.h"
#include "server/openai.h"

namespace autolm::server {

Engine::Engine(std::shared_ptr<const Model> m, std::shared_ptr<const Tokenizer> t, std::string n)
    : model(std::move(m)), tokenizer(std::move(t)), name(std::move(n)) {
  created = static_cast<int64_t>(std::time(nullptr));
  seq2seq = model->family() == ModelFamily::kSeq2Seq;
  prompt_vocab_size = model->config().vocab_size;
  base = GenerationConfig::for_model(*model);
  token_vocabulary = make_token_vocabulary(tokenizer->token_bytes());
  const ModelConfig& c = model->config();
  const int64_t tokmax = tokenizer->model_max_length();
  const bool tok_limit = tokmax > 0 && tokmax < (int64_t(1) << 40);
  const std::string tok_why = "tokenizer_config.json model_max_length";
  if (!seq2seq) {
    context = c.max_positions;
    context_why = "config.json max positions";
    if (context <= 0 && c.raw.is_object() && c.raw.contains("max_position_embeddings") &&
        c.raw["max_position_embeddings"].is_number_integer()) {
      context = c.raw["max_position_embeddings"].get<int64_t>();
      context_why = "config.json max_position_embeddings";
    }
    if (tok_limit && (context <= 0 || tokmax < context)) {
      context = tokmax;
      context_why = tok_why;
    }
  } else {
    // An encoder input indexes the source vocabulary, which config.json sizes apart from the
    // target one the model's vocab_size counts in FSMT (src_vocab_size) and Marian (vocab_size
    // beside decoder_vocab_size); encode() checks the ids against the embeddings themselves.
    if (auto v = c.int_value("src_vocab_size")) prompt_vocab_size = *v;
    else if (auto w = c.int_value("vocab_size")) prompt_vocab_size = *w;
    encoder_limit = c.max_positions;
    encoder_why = "config.json max positions";
    if (tok_limit && (encoder_limit <= 0 || tokmax < encoder_limit)) {
      encoder_limit = tokmax;
      encoder_why = tok_why;
    }
    decoder_limit = c.max_positions;
  }
  // Sizes for the memory estimate, under the names config.json files use (0 when absent).
  auto first_int = [&](std::initializer_list<const char*> keys) -> int64_t {
    for (const char* k : keys)
      if (c.raw.is_object() && c.raw.contains(k) && c.raw[k].is_number_integer() && c.raw[k].get<int64_t>() > 0)
        return c.raw[k].get<int64_t>();
    return 0;
  };
  layers = seq2seq ? first_int({"num_decoder_layers", "decoder_layers", "num_layers", "num_hidden_layers"})
                   : first_int({"num_hidden_layers", "n_layer", "num_layers"});
  width = first_int({"hidden_size", "n_embd", "d_model"});
  heads = first_int({"num_attention_heads", "n_head", "num_heads", "decoder_attention_heads"});
  const int64_t kv_heads = first_int({"num_key_value_heads"});
  const int64_t head_dim = first_int({"head_dim", "d_kv"});  // d_kv: T5
  if (head_dim > 0 && heads > 0) kv_width = head_dim * (kv_heads > 0 ? kv_heads : heads);
  else if (kv_heads > 0 && heads > 0) kv_width = width / heads * kv_heads;                      // grouped-query attention
  else kv_width = width;
  // The chat template, found as Tokenizer::apply_chat_template finds it, parsed once.
  const std::string dir = tokenizer->dir().empty() ? c.dir : tokenizer->dir();
  special_tokens = special_tokens_from_config(
      parse_json<ojson>(tokenizer->tokenizer_config().dump(), dir + "/tokenizer_config.json"));
  std::optional<std::string> source = find_chat_template(dir, "", false);
  const auto& tc = tokenizer->tokenizer_config();
  const bool config_template = tc.contains("chat_template") && tc["chat_template"].is_string();
  if (!source && config_template) source = tc["chat_template"].get<std::string>();
  if (source) chat_template.emplace(*source, dir + " chat template");
  std::optional<std::string> tool_source = find_chat_template(dir, "", true);
  if (!tool_source && config_template) tool_source = tc["chat_template"].get<std::string>();
  if (tool_source && tool_source != source) tool_template.emplace(*tool_source, dir + " tool_use chat template");
  const std::optional<std::string>& with_tools = tool_template ? tool_source : source;
  if (with_tools) tool_format = detect_tool_format(*with_tools);
  mistral_args = tool_format == ToolFormat::kMistral && with_tools->find("[ARGS]") != std::string::npos;
  developer_role = source && source->find("developer") != std::string::npos;
}

}  // namespace autolm::server
