// OpenAI request parsing, generation and response shapes for autolm_server (docs/SERVER.md).
#include "server/openai.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <random>
#include <set>

#include "autolm/error.h"
#include "autolm/structured_output.h"
#include "io/json_file.h"
#include "server/logprobs_json.h"
#include "server/tool_grammar.h"

namespace autolm::server {

namespace {

constexpr int kDefaultCompletionTokens = 16;  // OpenAI's max_tokens default for /v1/completions
constexpr int kDefaultChatTokens = 256;       // `autolm chat`'s default when the folder sets none

std::string random_hex(size_t n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string s(n, '0');
  for (auto& c : s) c = digits[rng() & 15];
  return s;
}

const char* json_type(const ojson& v) {
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

[[noreturn]] void bad_type(const std::string& field, const ojson& v, const std::string& expected) {
  throw ApiError(400, "Invalid type for '" + field + "': expected " + expected + ", but got " + json_type(v) + ".", field,
                 "invalid_type");
}
[[noreturn]] void bad_value(const std::string& field, const std::string& why) {
  throw ApiError(400, "Invalid value for '" + field + "': " + why, field, "invalid_value");
}
[[noreturn]] void unsupported(const std::string& field, const std::string& why) {
  throw ApiError(400, "Unsupported value for '" + field + "': " + why, field, "unsupported_value");
}

// A request over one of the server's limits (RequestLimits): names the field, the value and
// the limit, and how to raise it.
[[noreturn]] void over_limit(const std::string& field, const std::string& what, int64_t value, int64_t limit,
                             const char* flag) {
  throw ApiError(400,
                 "Invalid value for '" + field + "': " + what + " is " + std::to_string(value) +
                     ", more than this server's limit of " + std::to_string(limit) + " (autolm serve " + flag + ").",
                 field, "limit_exceeded");
}

// The field's value, or nullptr when absent or null (OpenAI treats null as "not given").
const ojson* field(const ojson& req, const char* key) {
  auto it = req.find(key);
  return it == req.end() || it->is_null() ? nullptr : &*it;
}

std::optional<bool> get_bool(const ojson& req, const char* key) {
  const ojson* v = field(req, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) bad_type(key, *v, "a boolean");
  return v->get<bool>();
}

std::optional<double> get_number(const ojson& req, const char* key) {
  const ojson* v = field(req, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) bad_type(key, *v, "a number");
  const double d = v->get<double>();
  if (!std::isfinite(d)) bad_value(key, "must be finite.");
  return d;
}

// A number stored as float32 (temperature, top_p): 1e300 is refused, not silently infinity.
std::optional<float> get_float(const ojson& req, const char* key) {
  auto d = get_number(req, key);
  if (d && std::abs(*d) > double(std::numeric_limits<float>::max()))
    bad_value(key, field(req, key)->dump() + " is out of range.");
  return d ? std::optional<float>(static_cast<float>(*d)) : std::nullopt;
}

// Scalars inside a JSON value (token ids in nested lists, entries of an object), counted
// without recursion: bounds what GenerationConfig::update is asked to copy and what the
// logits processors walk every step.
int64_t count_values(const ojson& v) {
  int64_t n = 0;
  std::vector<const ojson*> todo{&v};
  while (!todo.empty()) {
    const ojson* x = todo.back();
    todo.pop_back();
    if (x->is_structured()) {
      for (const auto& e : *x) todo.push_back(&e);
    } else {
      ++n;
    }
  }
  return n;
}

// ordered_json (requests) → json (GenerationConfig), through parse_json like every parse of
// request data: the value was already depth-checked, so this only changes the container.
nlohmann::json to_json(const ojson& v, const std::string& where) { return parse_json<nlohmann::json>(dump(v), where); }

// Rough upper bound of the memory one generation allocates, float32 throughout: every row's
// self-attention K/V over prompt + new tokens (plus cross-attention K/V for seq2seq), the
// prompt pass's attention scores and activations, and a few vocab-sized buffers per row.
// Computed in double so that hostile sizes cannot overflow.
double estimate_memory(const Engine& e, int64_t rows, int64_t prompt_len, int64_t new_tokens) {
  const double f = 4, T = double(prompt_len) + double(new_tokens), L = double(prompt_len);
  const double kv = double(e.layers) * 2 * double(e.kv_width) * f;
  double per_row = T * kv + (e.seq2seq ? L * kv : 0);
  per_row += L * (double(e.heads) * L + 8 * double(e.width)) * f;
  per_row += 4 * double(std::max<int64_t>(e.model->config().vocab_size, 0)) * f;
  return double(rows) * per_row;
}

std::optional<int64_t> get_int(const ojson& req, const char* key) {
  const ojson* v = field(req, key);
  if (!v) return std::nullopt;
  if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX))
    bad_value(key, std::to_string(v->get<uint64_t>()) + " is out of range.");
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_float()) {  // 16.0 is an integer to JSON clients
    const double d = v->get<double>();
    if (std::floor(d) == d && std::abs(d) < 9e15) return static_cast<int64_t>(d);
  }
  bad_type(key, *v, "an integer");
}

// HF GenerationConfig field names a request may set directly, and the HF names that have an
// OpenAI spelling the request must use instead.
const std::set<std::string>& hf_fields() {
  static const std::set<std::string> fields = [] {
    std::set<std::string> s;
    const nlohmann::json defaults = GenerationConfig{}.to_json();
    for (auto it = defaults.begin(); it != defaults.end(); ++it) s.insert(it.key());
    for (const char* k : {"max_length", "max_new_tokens", "do_sample", "temperature", "top_p", "num_return_sequences",
                          "stop_strings", "output_scores", "eos_token_id", "pad_token_id", "bos_token_id",
                          "decoder_start_token_id", "seed"})
      s.erase(k);
    return s;
  }();
  return fields;
}
const char* openai_spelling(const std::string& hf) {
  if (hf == "max_new_tokens" || hf == "max_length") return "max_tokens";
  if (hf == "do_sample") return "temperature (0 = greedy, > 0 = sampling)";
  if (hf == "num_return_sequences") return "n";
  if (hf == "stop_strings") return "stop";
  return nullptr;
}

struct Common {
  std::set<std::string> known;  // OpenAI keys of this endpoint
  const char* prompt_field;      // "prompt" | "messages"
};

// Applies the fields both endpoints share to `job.config` (on top of engine.base).
void apply_common(const Engine& engine, const ojson& req, const Common& c, Job& job, int64_t default_max_tokens,
                  const char* max_tokens_key) {
  // Unknown keys: HF GenerationConfig fields go through update(); the rest are refused.
  ojson overrides = ojson::object();
  for (auto& [k, v] : req.items()) {
    if (c.known.count(k)) continue;
    if (hf_fields().count(k)) {
      overrides[k] = v;
      // vLLM's top_k -1 (and 0) disables top-k, as HF's 0.
      if (k == "top_k" && v.is_number_integer() && v.get<int64_t>() == -1) overrides[k] = 0;
      continue;
    }
    if (const char* alt = openai_spelling(k))
      throw ApiError(400, "Unrecognized request argument supplied: " + k + " (use '" + alt + "')", k,
                     "unrecognized_argument");
    // Fields transformers has but autolm refuses (guidance_scale, penalty_alpha, …) keep update()'s message.
    GenerationConfig probe;
    try {
      probe.update(nlohmann::json::object({{k, to_json(v, "request field '" + k + "'")}}), "request");
    } catch (const Error& e) {
      throw ApiError(400, e.what(), k, "unsupported_value");
    }
    throw ApiError(400, "Unrecognized request argument supplied: " + k, k, "unrecognized_argument");
  }
  const RequestLimits& lim = engine.limits;
  // Token lists (sequence_bias, bad_words_ids, suppress_tokens, …) are walked at every step.
  for (auto& [k, v] : overrides.items())
    if (const int64_t n = count_values(v); n > lim.max_token_list)
      over_limit(k, "the number of values", n, lim.max_token_list, "--max-token-list");

  GenerationConfig& cfg = job.config;
  cfg = engine.base;
  try {
    cfg.update(to_json(overrides, "request"), "request");
  } catch (const Error& e) {
    throw ApiError(400, e.what(), "", e.kind() == ErrorKind::kUnsupported ? "unsupported_value" : "invalid_value");
  }
  if (cfg.num_beams > lim.max_beams) over_limit("num_beams", "num_beams", cfg.num_beams, lim.max_beams, "--max-beams");

  // temperature: OpenAI's default 1; 0 = greedy.
  const float temperature = get_float(req, "temperature").value_or(1.0f);
  if (temperature < 0) bad_value("temperature", "must be >= 0 (0 = greedy decoding).");
  cfg.do_sample = temperature > 0;
  if (temperature > 0) cfg.temperature = temperature;
  if (auto top_p = get_float(req, "top_p")) cfg.top_p = *top_p;

  if (auto seed = get_int(req, "seed")) cfg.seed = static_cast<uint64_t>(*seed);
  else cfg.seed = std::random_device{}() * 0x100000001ull ^ std::random_device{}();

  if (auto n = get_int(req, "n")) {
    if (*n < 1) bad_value("n", std::to_string(*n) + " is less than 1.");
    if (*n > lim.max_n) over_limit("n", "n", *n, lim.max_n, "--max-n");
    job.n = static_cast<int>(*n);
  }

  if (const ojson* stop = field(req, "stop")) {
    if (stop->is_array() && int64_t(stop->size()) > lim.max_stop)
      over_limit("stop", "the number of stop sequences", int64_t(stop->size()), lim.max_stop, "--max-stop");
    if (stop->is_string()) {
      job.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      for (const auto& s : *stop) {
        if (!s.is_string()) bad_type("stop", *stop, "a string or an array of strings");
        job.stop.push_back(s.get<std::string>());
      }
    } else {
      bad_type("stop", *stop, "a string or an array of strings");
    }
    for (const auto& s : job.stop) {
      if (s.empty()) bad_value("stop", "stop sequences must not be empty.");
      if (int64_t(s.size()) > lim.max_stop_bytes)
        over_limit("stop", "the length in bytes of a stop sequence", int64_t(s.size()), lim.max_stop_bytes,
                   "--max-stop-bytes");
    }
    cfg.stop_strings = job.stop;
  }

  job.stream = get_bool(req, "stream").value_or(false);
  if (const ojson* so = field(req, "stream_options")) {
    if (!so->is_object()) bad_type("stream_options", *so, "an object");
    if (auto inc = get_bool(*so, "include_usage")) job.include_usage = *inc && job.stream;
  }

  // OpenAI's additive penalties (the presence_frequency_penalty processor, over generated tokens).
  if (auto p = get_number(req, "presence_penalty")) {
    if (*p < -2 || *p > 2) bad_value("presence_penalty", field(req, "presence_penalty")->dump() + " is outside [-2, 2].");
    cfg.presence_penalty = static_cast<float>(*p);
  }
  if (auto p = get_number(req, "frequency_penalty")) {
    if (*p < -2 || *p > 2) bad_value("frequency_penalty", field(req, "frequency_penalty")->dump() + " is outside [-2, 2].");
    cfg.frequency_penalty = static_cast<float>(*p);
  }
  // logit_bias {"token id": bias}: one-token sequence_bias entries, which add their bias at every step.
  if (const ojson* lb = field(req, "logit_bias")) {
    if (!lb->is_object()) bad_type("logit_bias", *lb, "an object");
    if (int64_t(lb->size()) > lim.max_token_list)
      over_limit("logit_bias", "the number of entries", int64_t(lb->size()), lim.max_token_list, "--max-token-list");
    const int64_t vocab = engine.model->config().vocab_size;
    if (!lb->empty() && !cfg.sequence_bias) cfg.sequence_bias.emplace();
    for (auto it = lb->begin(); it != lb->end(); ++it) {
      const std::string& key = it.key();
      const bool digits = !key.empty() && key.size() <= 10 && key.find_first_not_of("0123456789") == std::string::npos;
      const int64_t id = digits ? std::stoll(key) : -1;
      if (!digits || id > INT32_MAX)
        bad_value("logit_bias", "key '" + key.substr(0, 64) + "' is not a token id (a non-negative integer).");
      if (vocab > 0 && id >= vocab)
        bad_value("logit_bias", "token id " + key + " is outside the vocabulary (size " + std::to_string(vocab) + ").");
      if (!it->is_number()) bad_type("logit_bias", *it, "a number (the bias of token " + key + ")");
      const double b = it->get<double>();
      if (!(b >= -100 && b <= 100)) bad_value("logit_bias", "the bias of token " + key + " is " + it->dump() + ", outside [-100, 100].");
      cfg.sequence_bias->push_back({{id}, static_cast<float>(b)});
    }
  }
  // vLLM's min_tokens: EOS is banned until this many tokens were generated (HF min_new_tokens).
  if (auto mt = get_int(req, "min_tokens")) {
    if (*mt < 0) bad_value("min_tokens", std::to_string(*mt) + " is negative.");
    if (*mt > lim.max_tokens) over_limit("min_tokens", "min_tokens", *mt, lim.max_tokens, "--max-tokens");
    cfg.min_new_tokens = static_cast<int>(*mt);
  }
  if (const ojson* u = field(req, "user"); u && !u->is_string()) bad_type("user", *u, "a string");
  if (const ojson* m = field(req, "model"); m && !m->is_string()) bad_type("model", *m, "a string");

  // Length: max_tokens → max_new_tokens, capped so that the prompt and the reply fit.
  int64_t max_tokens = default_max_tokens;
  const bool explicit_max = field(req, max_tokens_key) != nullptr;
  if (auto mt = get_int(req, max_tokens_key)) {
    if (*mt < 1) bad_value(max_tokens_key, std::to_string(*mt) + " is less than 1; it must be at least 1.");
    if (*mt > lim.max_tokens) over_limit(max_tokens_key, max_tokens_key, *mt, lim.max_tokens, "--max-tokens");
    max_tokens = *mt;
  }
  max_tokens = std::min(max_tokens, lim.max_tokens);
  if (job.stream && cfg.num_beams > 1)
    unsupported("num_beams", "beam search cannot stream (as in transformers); set \"stream\": false.");
  if (job.logprobs >= 0 && cfg.num_beams > 1)
    unsupported("logprobs", "log probabilities are not available with beam search (num_beams > 1).");
  job.prompt_tokens = 0;
  int64_t total_tokens = 0;
  size_t longest = 0;
  for (size_t i = 0; i < job.prompts.size(); ++i) {
    const auto& p = job.prompts[i];
    if (p.empty())
      bad_value(c.prompt_field, std::string(job.prompts.size() > 1 ? "prompt " + std::to_string(i) + " " : "prompt ") +
                                    "is empty after tokenization.");
    for (int32_t t : p)
      if (t < 0 || (engine.model->config().vocab_size > 0 && t >= engine.model->config().vocab_size))
        bad_value(c.prompt_field, "token id " + std::to_string(t) + " is outside the vocabulary (size " +
                                      std::to_string(engine.model->config().vocab_size) + ").");
    longest = std::max(longest, p.size());
    total_tokens += static_cast<int64_t>(p.size());
  }
  if (total_tokens > lim.max_prompt_tokens)
    over_limit(c.prompt_field, "the number of prompt tokens", total_tokens, lim.max_prompt_tokens, "--max-prompt-tokens");
  job.prompt_tokens = static_cast<int>(total_tokens);
  const int64_t L = static_cast<int64_t>(longest);
  if (!engine.seq2seq) {
    if (engine.context > 0 && L >= engine.context)
      throw ApiError(400, "This model's maximum context length is " + std::to_string(engine.context) + " tokens (" +
                              engine.context_why + "), but the prompt is " + std::to_string(L) +
                              " tokens, leaving no room for new tokens. Shorten the prompt.",
                     c.prompt_field, "context_length_exceeded");
    // An explicit max_tokens that does not fit is refused (vLLM's behaviour); the default is capped.
    if (engine.context > 0 && explicit_max && L + max_tokens > engine.context)
      throw ApiError(400, "This model's maximum context length is " + std::to_string(engine.context) + " tokens (" +
                              engine.context_why + "). However, you requested " + std::to_string(L + max_tokens) +
                              " tokens (" + std::to_string(L) + " in the prompt, " + std::to_string(max_tokens) +
                              " in the completion). Please reduce the length of the prompt or " + max_tokens_key + ".",
                     max_tokens_key, "context_length_exceeded");
    if (engine.context > 0) max_tokens = std::min(max_tokens, engine.context - L);
  } else {
    if (engine.encoder_limit > 0 && L > engine.encoder_limit)
      throw ApiError(400, "This model accepts at most " + std::to_string(engine.encoder_limit) + " input tokens (" +
                              engine.encoder_why + "), but the prompt is " + std::to_string(L) +
                              " tokens. Shorten the prompt.",
                     c.prompt_field, "context_length_exceeded");
    if (engine.decoder_limit > 0 && explicit_max && max_tokens > engine.decoder_limit - 1)
      throw ApiError(400, "This model generates at most " + std::to_string(engine.decoder_limit - 1) +
                              " tokens (config.json max positions, one taken by the decoder start), but " +
                              max_tokens_key + " is " + std::to_string(max_tokens) + ".",
                     max_tokens_key, "context_length_exceeded");
    if (engine.decoder_limit > 0) max_tokens = std::min(max_tokens, engine.decoder_limit - 1);
  }
  cfg.max_new_tokens = static_cast<int>(std::max<int64_t>(1, max_tokens));
  cfg.max_length.reset();
  // One batch of prompts × n × num_beams rows: bounded in count, then in estimated memory.
  const int64_t rows = static_cast<int64_t>(job.prompts.size()) * job.n * std::max(cfg.num_beams, 1);
  if (rows > lim.max_sequences)
    over_limit(cfg.num_beams > 1 ? "num_beams" : job.chat ? "n" : "prompt", "prompts × n × num_beams", rows,
               lim.max_sequences, "--max-sequences");
  try {
    cfg.validate();
  } catch (const Error& e) {
    throw ApiError(400, e.what(), "", "invalid_value");
  }
  double bytes = estimate_memory(engine, rows, L, cfg.max_new_tokens.value_or(0));
  // Log-probabilities: per token, its entry and its top entries, in the response (~256 bytes each).
  if (job.logprobs >= 0) bytes += double(rows) * double(cfg.max_new_tokens.value_or(0)) * (job.logprobs + 1) * 256.0;
  if (bytes > double(lim.max_request_memory))
    throw ApiError(400,
                   "This request would need about " + std::to_string(int64_t(std::min(bytes, 9e18)) >> 20) +
                       " MiB (" + std::to_string(rows) + " sequences of " + std::to_string(L) + " prompt + " +
                       std::to_string(*cfg.max_new_tokens) + " new tokens), more than this server's limit of " +
                       std::to_string(lim.max_request_memory >> 20) +
                       " MiB per request (autolm serve --max-request-memory). Lower max_tokens, n or num_beams, or "
                       "shorten the prompt.",
                   cfg.num_beams > 1 ? "num_beams" : max_tokens_key, "limit_exceeded");
  job.memory_estimate = static_cast<uint64_t>(bytes);
  job.created = static_cast<int64_t>(std::time(nullptr));
}

// Walks JSON text that failed to parse, only to say where: the path of the value being read
// when the parser stopped ("messages[2].content"), whether it stopped for depth, and
// nlohmann's reason. SAX events, an explicit stack: no recursion however hostile the text.
class ErrorLocator : public nlohmann::json_sax<ojson> {
 public:
  explicit ErrorLocator(int max_depth) : max_depth_(max_depth) {}
  std::string path() const {
    std::string p;
    for (const auto& l : stack_) {
      if (l.object) p += (p.empty() ? "" : ".") + l.key;
      else p += "[" + std::to_string(l.index) + "]";
    }
    return p;
  }
  bool too_deep = false;
  int error_id = 0;
  std::string error;

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return open(true); }
  bool key(string_t& k) override {
    stack_.back().key = k;
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    error_id = ex.id;
    error = ex.what();
    return false;
  }

 private:
  struct Level {
    bool object;
    size_t index = 0;
    std::string key;
  };
  bool value() {
    if (!stack_.empty() && !stack_.back().object) ++stack_.back().index;
    return true;
  }
  bool open(bool object) {
    if (static_cast<int>(stack_.size()) >= max_depth_) {
      too_deep = true;
      return false;
    }
    stack_.push_back(Level{object, 0, {}});
    return true;
  }
  bool close() {
    stack_.pop_back();
    return value();
  }
  int max_depth_;
  std::vector<Level> stack_;
};

// Chat message content: a string, or a list of {"type": "text", "text": ...} parts joined with "\n".
ojson normalize_content(const ojson& content, size_t index, const std::string& role) {
  const std::string where = "messages[" + std::to_string(index) + "].content";
  if (content.is_string()) return content;
  if (content.is_null()) {
    if (role == "assistant") return content;  // an assistant turn that only calls tools
    bad_value(where, "content is required for role '" + role + "'.");
  }
  if (!content.is_array()) bad_type(where, content, "a string or an array of content parts");
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const auto& part = content[i];
    const std::string pw = where + "[" + std::to_string(i) + "]";
    if (!part.is_object()) bad_type(pw, part, "an object");
    const ojson* type = field(part, "type");
    if (!type || !type->is_string()) bad_value(pw + ".type", "missing or not a string.");
    if (*type != "text") unsupported(pw + ".type", "'" + type->get<std::string>() + "' content is not supported (text only).");
    const ojson* t = field(part, "text");
    if (!t || !t->is_string()) bad_value(pw + ".text", "missing or not a string.");
    if (!text.empty()) text += "\n";
    text += t->get<std::string>();
  }
  return text;
}

ojson normalize_messages(const Engine& engine, const ojson& req) {
  const ojson* msgs = field(req, "messages");
  if (!msgs) throw ApiError(400, "Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
  if (!msgs->is_array()) bad_type("messages", *msgs, "an array of messages");
  if (msgs->empty()) bad_value("messages", "must contain at least one message.");
  if (int64_t(msgs->size()) > engine.limits.max_messages)
    over_limit("messages", "the number of messages", int64_t(msgs->size()), engine.limits.max_messages,
               "--max-messages");
  ojson out = ojson::array();
  for (size_t i = 0; i < msgs->size(); ++i) {
    const auto& m = (*msgs)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) bad_type(where, m, "an object");
    const ojson* role = field(m, "role");
    if (!role) throw ApiError(400, "Missing required parameter: '" + where + ".role'.", where + ".role", "missing_required_parameter");
    if (!role->is_string()) bad_type(where + ".role", *role, "a string");
    const std::string r = role->get<std::string>();
    if (r != "system" && r != "user" && r != "assistant" && r != "tool" && r != "developer")
      bad_value(where + ".role", "'" + r + "' is not one of 'system', 'developer', 'user', 'assistant', 'tool'.");
    ojson nm = m;
    // OpenAI's "developer" role is its newer name for "system": templates that do not know it get "system".
    if (r == "developer" && !engine.developer_role) nm["role"] = "system";
    if (!m.contains("content") && r != "assistant")
      throw ApiError(400, "Missing required parameter: '" + where + ".content'.", where + ".content",
                     "missing_required_parameter");
    nm["content"] = normalize_content(m.contains("content") ? m["content"] : ojson(nullptr), i, r);
    // Templates read tool-call arguments as a mapping (transformers' convention); OpenAI sends a JSON string.
    // Parsed within what is left of the request's depth limit (it sits 5 levels deep), so
    // the message stays as shallow as any request the limit admits.
    if (nm.contains("tool_calls") && nm["tool_calls"].is_array())
      for (size_t j = 0; j < nm["tool_calls"].size(); ++j) {
        ojson& call = nm["tool_calls"][j];
        if (!(call.is_object() && call.contains("function") && call["function"].is_object() &&
              call["function"].contains("arguments") && call["function"]["arguments"].is_string()))
          continue;
        const std::string at = where + ".tool_calls[" + std::to_string(j) + "].function.arguments";
        const std::string& text = call["function"]["arguments"].get_ref<const std::string&>();
        if (!ojson::accept(text)) continue;  // not JSON: left as the string it is (accept() does not build or recurse)
        const int depth_left = engine.limits.json_max_depth - 5;
        if (depth_left < 1) continue;
        ojson parsed = parse_request_json(text, depth_left, at);
        if (parsed.is_object()) call["function"]["arguments"] = std::move(parsed);
      }
    out.push_back(std::move(nm));
  }
  return out;
}

const char* finish_name(FinishReason r) {
  switch (r) {
    case FinishReason::kEos:
    case FinishReason::kStopString:
      return "stop";
    default:
      return "length";
  }
}

std::span<const int32_t> generated(const GenerateOutput& out, size_t r) {
  return std::span<const int32_t>(out.sequences[r]).subspan(out.prompt_length, out.num_generated[r]);
}

std::vector<std::vector<int32_t>> rows_of(const Job& job) {
  std::vector<std::vector<int32_t>> rows;
  for (const auto& p : job.prompts)
    for (int j = 0; j < job.n; ++j) rows.push_back(p);
  return rows;
}

ojson usage(const Job& job, int completion_tokens, const GenerateOutput& out) {
  ojson u = {{"prompt_tokens", job.prompt_tokens},
             {"completion_tokens", completion_tokens},
             {"total_tokens", job.prompt_tokens + completion_tokens}};
  // Assisted generation: the drafts the model accepted and rejected (OpenAI's predicted-output
  // counters).
  if (out.draft_tokens > 0)
    u["completion_tokens_details"] = {{"accepted_prediction_tokens", out.accepted_draft_tokens},
                                      {"rejected_prediction_tokens", out.draft_tokens - out.accepted_draft_tokens}};
  return u;
}

// The draft model assists requests that transformers' assisted generation accepts: one
// sequence, greedy or sampling.
GenerateOptions assist(const Engine& engine, const Job& job, size_t rows) {
  GenerateOptions o;
  // Assisted generation reports no per-step log-probabilities and takes no constraint: requests
  // asking for either run plainly.
  if (engine.draft && rows == 1 && job.config.num_beams == 1 && job.logprobs < 0 && !job.constraint) {
    o.assistant_model = engine.draft.get();
    o.assistant_generation_config = &engine.draft_config;
  }
  return o;
}

GenerateHooks base_hooks(const Engine& engine, const Job& job) {
  GenerateHooks hooks;
  auto tok = engine.tokenizer;
  hooks.decode = [tok](std::span<const int32_t> ids) { return tok->decode(ids, false); };
  hooks.constraint = job.constraint;
  return hooks;
}

// vLLM's ignore_eos: generation goes on past EOS (until max_tokens or a stop string).
void apply_ignore_eos(const ojson& req, Job& job) {
  if (!get_bool(req, "ignore_eos").value_or(false)) return;
  auto& cfg = job.config;
  if (!cfg.pad_token_id && !cfg.eos_token_id.empty()) cfg.pad_token_id = cfg.eos_token_id[0];
  cfg.eos_token_id.clear();
}

// The tools tool_choice "required" (all) or a named function (that one) forces, with their
// parameter schemas (tools[i].function.parameters; absent: any object).
std::vector<ForcedTool> forced_tools(const ojson& tools, const std::string* only) {
  std::vector<ForcedTool> out;
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string at = "tools[" + std::to_string(i) + "]";
    const ojson& t = tools[i];
    const ojson* fn = field(t, "function");
    if (!fn || !fn->is_object()) bad_value(at, "expected {\"type\": \"function\", \"function\": {\"name\": …}}.");
    const ojson* name = field(*fn, "name");
    if (!name || !name->is_string() || name->get<std::string>().empty())
      bad_value(at + ".function.name", "a tool needs a non-empty string name.");
    if (only && name->get<std::string>() != *only) continue;
    ForcedTool f{name->get<std::string>(), std::nullopt, i};
    if (const ojson* p = field(*fn, "parameters")) {
      if (!p->is_object() && !p->is_boolean()) bad_type(at + ".function.parameters", *p, "a JSON schema object");
      f.parameters = *p;
    }
    out.push_back(std::move(f));
  }
  return out;
}

// `tools` + `tool_choice` → the format tool calls are parsed in (kNone: not parsed), and for
// "required" / a named function the constraint that forces the calls (tool_grammar.h).
ToolFormat tool_choice(const Engine& engine, const ojson& req, bool parallel,
                       std::shared_ptr<const LogitsConstraint>& forced) {
  const ojson* tools = field(req, "tools");
  const ojson* choice = field(req, "tool_choice");
  const bool has_tools = tools && tools->is_array() && !tools->empty();
  std::string mode = has_tools ? "auto" : "none";
  std::string named;
  if (choice) {
    if (choice->is_string()) {
      mode = choice->get<std::string>();
      if (mode != "auto" && mode != "none" && mode != "required")
        bad_value("tool_choice", "'" + mode.substr(0, 64) + "' is not one of 'none', 'auto', 'required' or a named function.");
    } else if (choice->is_object()) {
      const ojson* fn = field(*choice, "function");
      const ojson* name = fn && fn->is_object() ? field(*fn, "name") : nullptr;
      if (!name || !name->is_string() || (field(*choice, "type") && (*choice)["type"] != "function"))
        bad_value("tool_choice", "expected {\"type\": \"function\", \"function\": {\"name\": …}}.");
      bool known = false;
      if (has_tools)
        for (const auto& t : *tools)
          if (t.is_object() && t.contains("function") && t["function"].is_object() &&
              t["function"].value("name", ojson()) == *name)
            known = true;
      if (!known) bad_value("tool_choice", "the function '" + name->get<std::string>().substr(0, 64) + "' is not in 'tools'.");
      mode = "named";
      named = name->get<std::string>();
    } else {
      bad_type("tool_choice", *choice, "a string or an object");
    }
  }
  if (mode == "none") return ToolFormat::kNone;
  if (!has_tools) bad_value("tool_choice", "'" + mode + "' needs a non-empty 'tools' list.");
  if (engine.tool_format == ToolFormat::kNone)
    unsupported("tools", "this model's chat template does not write tool calls in a format autolm can parse (Hermes / "
                         "Qwen <tool_call>, Llama 3.1 JSON, Mistral [TOOL_CALLS]), so calls would come back as plain "
                         "text; pass \"tool_choice\": \"none\" to only show the tools to the model.");
  if (mode == "required" || mode == "named") {
    const std::vector<ForcedTool> chosen = forced_tools(*tools, mode == "named" ? &named : nullptr);
    try {
      forced = tool_call_constraint(engine.tool_format, engine.mistral_args, chosen, parallel, engine.token_vocabulary);
    } catch (const Error& e) {
      // Name the tool whose schema failed: compile each alone (cheap; only on this error path).
      std::string where = "tools";
      for (size_t i = 0; i < chosen.size() && where == "tools"; ++i) {
        try {
          tool_call_constraint(engine.tool_format, engine.mistral_args, {chosen[i]}, false, engine.token_vocabulary);
        } catch (const Error&) {
          where = "tools[" + std::to_string(chosen[i].index) + "].function.parameters";
        }
      }
      if (e.kind() == ErrorKind::kUnsupported)
        unsupported(where, std::string(e.what()) + " (tool_choice '" + mode + "' enforces the parameter schemas by "
                                                   "constrained decoding; use \"auto\" for schemas it cannot enforce).");
      bad_value(where, e.what());
    }
  }
  return engine.tool_format;
}

// response_format (docs/SERVER.md): text, json_object, or json_schema enforced by constrained
// decoding; a schema feature autolm cannot enforce is a 400 naming it.
std::shared_ptr<const LogitsConstraint> response_format_constraint(const Engine& engine, const ojson& rf) {
  if (!rf.is_object() || !rf.contains("type") || !rf["type"].is_string())
    bad_type("response_format", rf, "an object with a string \"type\"");
  const std::string type = rf["type"].get<std::string>();
  if (type == "text") return nullptr;
  if (type == "json_object") return json_object_constraint(engine.token_vocabulary);
  if (type != "json_schema") bad_value("response_format", "type must be \"text\", \"json_object\" or \"json_schema\".");
  const ojson* js = rf.contains("json_schema") ? &rf["json_schema"] : nullptr;
  if (!js || !js->is_object()) bad_value("response_format", "type \"json_schema\" needs a \"json_schema\" object.");
  if (!js->contains("schema")) return json_object_constraint(engine.token_vocabulary);
  try {
    return json_schema_constraint((*js)["schema"], engine.token_vocabulary);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kUnsupported) unsupported("response_format.json_schema.schema", e.what());
    bad_value("response_format.json_schema.schema", e.what());
  }
}

}  // namespace

ojson parse_body(const Engine& engine, const std::string& body) {
  // Copying, dumping and rendering JSON recurse: deep nesting is refused while parsing.
  ojson req = parse_request_json(body, engine.limits.json_max_depth);
  if (!req.is_object()) throw ApiError(400, "The request body must be a JSON object.", "", "invalid_json");
  return req;
}

ojson parse_request_json(std::string_view text, int max_depth, const std::string& where) {
  try {
    return parse_json<ojson>(text, where.empty() ? "request body" : where, max_depth);
  } catch (const Error&) {
    // Rare: walk the text again to name the field that broke it.
    ErrorLocator loc(max_depth);
    try {
      ojson::sax_parse(text.begin(), text.end(), &loc);
    } catch (const std::exception& e) {
      loc.error = e.what();
    }
    // Keys and the parser's "last read" text come from the request: clipped, as an 8 MB key
    // or string would otherwise be echoed whole.
    auto clip = [](std::string t, size_t n) { return t.size() <= n ? t : t.substr(0, n) + "…"; };
    loc.error = clip(loc.error, 300);
    std::string at = loc.path();
    if (!where.empty()) at = at.empty() ? where : (at[0] == '[' ? where + at : where + "." + at);
    at = clip(at, 300);
    const std::string in = at.empty() ? "" : " (at '" + at + "')";
    if (loc.too_deep) {
      // param: the field that holds the nesting ("top_k", or `where`), not its 64 indexes.
      const std::string top = !where.empty() ? where : at.substr(0, at.find_first_of(".["));
      throw ApiError(400,
                     "The JSON " + std::string(where.empty() ? "body" : "in '" + where + "'") + " is nested more than " +
                         std::to_string(max_depth) + " levels deep" + (top.empty() ? "" : " (in '" + top + "')") +
                         " (autolm serve --max-json-depth).",
                     top, "invalid_json");
    }
    if (loc.error_id == 406)  // number overflow: valid JSON syntax, a value no double holds
      throw ApiError(400, "Invalid value for '" + at + "': " + loc.error.substr(loc.error.find(']') + 2) +
                              " (out of the range of a double).",
                     at, "invalid_value");
    throw ApiError(400,
                   "We could not parse the JSON body of your request" + in +
                       ". (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API "
                       "expects a JSON payload.) " + loc.error,
                   at, "invalid_json");
  }
}

ojson error_body(const std::string& message, const std::string& type, const std::string& param, const std::string& code) {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", param.empty() ? ojson(nullptr) : ojson(param)},
            {"code", code.empty() ? ojson(nullptr) : ojson(code)}}}};
}

std::string dump(const ojson& j) { return j.dump(-1, ' ', false, ojson::error_handler_t::replace); }

std::string error_event(const std::string& message, const std::string& type) {
  return "data: " + dump(error_body(message, type)) + "\n\n";
}

Engine::Engine(std::shared_ptr<const Model> m, std::shared_ptr<const Tokenizer> t, std::string n)
    : model(std::move(m)), tokenizer(std::move(t)), name(std::move(n)) {
  created = static_cast<int64_t>(std::time(nullptr));
  seq2seq = model->family() == ModelFamily::kSeq2Seq;
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

Job parse_completion_request(const Engine& engine, const std::string& body) {
  static const Common common{{"model", "prompt", "max_tokens", "temperature", "top_p", "n", "stream", "stream_options",
                              "logprobs", "echo", "stop", "presence_penalty", "frequency_penalty", "best_of",
                              "logit_bias", "user", "suffix", "seed", "min_tokens", "ignore_eos"},
                             "prompt"};
  const ojson req = parse_body(engine, body);
  Job job;
  job.id = "cmpl-" + random_hex(24);
  const ojson* prompt = field(req, "prompt");
  if (!prompt) throw ApiError(400, "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter");
  const Tokenizer& tok = *engine.tokenizer;
  const RequestLimits& lim = engine.limits;
  // Sizes are checked before anything is tokenized or copied.
  if (prompt->is_array() && int64_t(prompt->size()) > lim.max_sequences && !(*prompt)[0].is_number())
    over_limit("prompt", "the number of prompts", int64_t(prompt->size()), lim.max_sequences, "--max-sequences");
  if (prompt->is_array() && count_values(*prompt) > lim.max_prompt_tokens && !(*prompt)[0].is_string())
    over_limit("prompt", "the number of prompt tokens", count_values(*prompt), lim.max_prompt_tokens,
               "--max-prompt-tokens");
  auto int_list = [&](const ojson& a) {
    std::vector<int32_t> ids;
    for (const auto& v : a) {
      if (!v.is_number_integer() || v.get<int64_t>() < INT32_MIN || v.get<int64_t>() > INT32_MAX)
        bad_type("prompt", *prompt, "a string, an array of strings, an array of token ids or an array of such arrays");
      ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
    }
    return ids;
  };
  if (prompt->is_string()) {
    job.prompts.push_back(tok.encode(prompt->get<std::string>(), true));
  } else if (prompt->is_array() && !prompt->empty()) {
    const ojson& first = (*prompt)[0];
    if (first.is_string()) {
      for (const auto& p : *prompt) {
        if (!p.is_string()) bad_type("prompt", *prompt, "an array of strings (not mixed)");
        job.prompts.push_back(tok.encode(p.get<std::string>(), true));
      }
    } else if (first.is_number_integer()) {
      job.prompts.push_back(int_list(*prompt));
    } else if (first.is_array()) {
      for (const auto& p : *prompt) {
        if (!p.is_array()) bad_type("prompt", *prompt, "an array of token-id arrays (not mixed)");
        job.prompts.push_back(int_list(p));
      }
    } else {
      bad_type("prompt", *prompt, "a string, an array of strings, an array of token ids or an array of such arrays");
    }
  } else if (prompt->is_array()) {
    bad_value("prompt", "must not be an empty array.");
  } else {
    bad_type("prompt", *prompt, "a string or an array of strings");
  }
  if (get_bool(req, "echo").value_or(false)) unsupported("echo", "echoing the prompt is not implemented.");
  if (auto lp = get_int(req, "logprobs")) {
    if (*lp < 0 || *lp > kMaxTopLogprobs)
      bad_value("logprobs", std::to_string(*lp) + " is not between 0 and " + std::to_string(kMaxTopLogprobs) + ".");
    job.logprobs = static_cast<int>(*lp);
  }
  if (const ojson* s = field(req, "suffix")) {
    if (!s->is_string()) bad_type("suffix", *s, "a string");
    if (!s->get<std::string>().empty()) unsupported("suffix", "insertion (suffix) is not implemented.");
  }
  if (auto best_of = get_int(req, "best_of")) {
    if (*best_of > lim.max_n) over_limit("best_of", "best_of", *best_of, lim.max_n, "--max-n");
    if (*best_of != get_int(req, "n").value_or(1)) unsupported("best_of", "best_of other than n is not implemented.");
  }
  apply_common(engine, req, common, job, kDefaultCompletionTokens, "max_tokens");
  apply_ignore_eos(req, job);
  return job;
}

std::vector<int32_t> chat_prompt_ids(const Engine& engine, const ojson& req, bool add_generation_prompt) {
  const ojson messages = normalize_messages(engine, req);
  ChatTemplateOptions options;
  options.add_generation_prompt = add_generation_prompt;
  if (const ojson* tools = field(req, "tools")) {
    if (!tools->is_array()) bad_type("tools", *tools, "an array of tools");
    for (const auto& t : *tools)
      if (!t.is_object()) bad_type("tools", *tools, "an array of tool objects");
    if (!tools->empty()) options.tools = *tools;
  }
  if (const ojson* kw = field(req, "chat_template_kwargs")) {
    if (!kw->is_object()) bad_type("chat_template_kwargs", *kw, "an object");
    options.extra = *kw;
  }
  const Tokenizer& tok = *engine.tokenizer;
  const ChatTemplate* tmpl = engine.chat_template ? &*engine.chat_template : nullptr;
  if (!options.tools.is_null() && engine.tool_template) tmpl = &*engine.tool_template;
  if (tmpl) {
    std::string text;
    try {
      text = tmpl->render(messages, options, engine.special_tokens);
    } catch (const Error& e) {
      throw ApiError(400, std::string("The chat template refused the conversation: ") + e.what(), "messages",
                     "invalid_value");
    }
    return tok.encode(text, false);  // the template writes the special tokens itself
  }
  if (engine.seq2seq) {
    // Encoder-decoder instruction mode (as `autolm chat`): the last message is the encoder input.
    const ojson& last = messages.back()["content"];
    if (!last.is_string()) bad_value("messages", "the last message needs text content (no chat template: it is the encoder input).");
    return tok.encode(last.get<std::string>(), true);
  }
  throw ApiError(400, "Model '" + engine.name + "' has no chat template (chat_template.jinja, tokenizer_config.json "
                      "\"chat_template\" or chat_template.json), so /v1/chat/completions cannot format messages for "
                      "it; use /v1/completions with a prompt.",
                 "messages", "no_chat_template");
}

Job parse_chat_request(const Engine& engine, const std::string& body) {
  static const Common common{{"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n",
                              "stream", "stream_options", "stop", "presence_penalty", "frequency_penalty", "logit_bias",
                              "logprobs", "top_logprobs", "user", "seed", "tools", "tool_choice", "parallel_tool_calls",
                              "response_format", "metadata", "store", "service_tier", "chat_template_kwargs",
                              "min_tokens", "ignore_eos"},
                             "messages"};
  const ojson req = parse_body(engine, body);
  Job job;
  job.chat = true;
  job.id = "chatcmpl-" + random_hex(24);
  job.parallel_tool_calls = get_bool(req, "parallel_tool_calls").value_or(true);
  job.tool_format = tool_choice(engine, req, job.parallel_tool_calls, job.constraint);
  if (get_bool(req, "logprobs").value_or(false)) job.logprobs = 0;
  if (auto top = get_int(req, "top_logprobs")) {
    if (*top < 0 || *top > kMaxTopLogprobs)
      bad_value("top_logprobs", std::to_string(*top) + " is not between 0 and " + std::to_string(kMaxTopLogprobs) + ".");
    if (job.logprobs < 0) bad_value("top_logprobs", "needs \"logprobs\": true.");
    job.logprobs = static_cast<int>(*top);
  }
  if (const ojson* rf = field(req, "response_format"))
    if (auto c = response_format_constraint(engine, *rf)) {
      if (job.constraint)
        unsupported("response_format", "cannot be combined with tool_choice 'required' or a named function: both "
                                       "constrain the whole reply.");
      job.constraint = std::move(c);
    }
  get_bool(req, "store");
  if (const ojson* m = field(req, "metadata"); m && !m->is_object()) bad_type("metadata", *m, "an object");
  if (field(req, "max_tokens") && field(req, "max_completion_tokens"))
    throw ApiError(400, "Give either 'max_tokens' or 'max_completion_tokens', not both.", "max_tokens", "invalid_value");

  job.prompts.push_back(chat_prompt_ids(engine, req, true));
  const char* max_key = field(req, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  apply_common(engine, req, common, job, engine.base.max_new_tokens.value_or(kDefaultChatTokens), max_key);
  // Stop at the end-of-turn token too (the tokenizer's eos_token, e.g. <|im_end|>), as `autolm chat`.
  auto& eos = job.config.eos_token_id;
  if (auto e = engine.tokenizer->eos_token_id(); e && std::find(eos.begin(), eos.end(), *e) == eos.end())
    eos.push_back(*e);
  apply_ignore_eos(req, job);
  return job;
}

std::string StopTrimmer::push(const std::string& piece) {
  if (hit_) return "";
  pending_ += piece;
  if (stops_->empty()) return std::exchange(pending_, std::string());
  size_t first = std::string::npos;
  for (const auto& s : *stops_) first = std::min(first, pending_.find(s));
  if (first != std::string::npos) {
    hit_ = true;
    std::string out = pending_.substr(0, first);
    pending_.clear();
    return out;
  }
  // Hold back the longest tail that could still grow into a stop string.
  size_t hold = 0;
  for (const auto& s : *stops_)
    for (size_t k = std::min(s.size() - 1, pending_.size()); k > hold; --k)
      if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopTrimmer::finish() {
  if (hit_) return "";
  return std::exchange(pending_, std::string());
}

namespace {

// Tokens that end a reply (EOS, the end-of-turn token): with tool parsing the reply is decoded
// with its special tokens (Mistral's [TOOL_CALLS], Llama's <|python_tag|> are special), minus these.
struct ReplyTokens {
  explicit ReplyTokens(const Engine& engine, const Job& job) : keep_special(job.tool_format != ToolFormat::kNone) {
    ends.assign(job.config.eos_token_id.begin(), job.config.eos_token_id.end());
    if (auto e = engine.tokenizer->eos_token_id()) ends.push_back(*e);
  }
  bool is_end(int32_t t) const { return std::find(ends.begin(), ends.end(), int64_t(t)) != ends.end(); }
  std::vector<int32_t> text_ids(std::span<const int32_t> ids) const {
    std::vector<int32_t> out;
    for (int32_t t : ids)
      if (!keep_special || !is_end(t)) out.push_back(t);
    return out;
  }
  bool keep_special;
  std::vector<int64_t> ends;
};

ojson tool_call_json(const ToolCall& c, size_t index, bool with_index) {
  ojson j = ojson::object();
  if (with_index) j["index"] = index;
  j["id"] = c.id;
  j["type"] = "function";
  j["function"] = {{"name", c.name}, {"arguments", c.arguments}};
  return j;
}

// Per-token log-probabilities of the tokens that make the reply's text (EOS left out).
std::vector<StepLogprobs> text_logprobs(const std::vector<StepLogprobs>& steps, const ReplyTokens& rt) {
  std::vector<StepLogprobs> out;
  for (const auto& s : steps)
    if (!rt.is_end(s.chosen.token)) out.push_back(s);
  return out;
}

}  // namespace

ojson run_job(const Engine& engine, const Job& job, RunControl& control) {
  GenerateHooks hooks = base_hooks(engine, job);
  const auto rows = rows_of(job);
  std::vector<std::vector<StepLogprobs>> steps(job.logprobs >= 0 ? rows.size() : 0);
  if (job.config.num_beams == 1) {
    hooks.logprobs = job.logprobs;
    hooks.on_step = [&](const StreamStep& step) {
      for (size_t r = 0; r < steps.size(); ++r)
        if (step.was_active[r]) steps[r].push_back(step.logprobs[r]);
      if (control.keep_going && !control.keep_going()) {
        control.cancelled = true;
        return false;
      }
      return true;
    };
  }
  if (control.before_generate) control.before_generate();
  const GenerateOutput out = generate(*engine.model, rows, job.config, hooks, assist(engine, job, rows.size()));
  const ReplyTokens rt(engine, job);
  const Tokenizer& tok = *engine.tokenizer;
  ojson choices = ojson::array();
  int completion_tokens = 0;
  for (size_t r = 0; r < out.sequences.size(); ++r) {
    StopTrimmer trim(job.stop);
    std::string text = trim.push(tok.decode(rt.text_ids(generated(out, r)), !rt.keep_special));
    text += trim.finish();
    const char* finish = trim.hit() ? "stop" : finish_name(out.finish_reasons[r]);
    completion_tokens += out.num_generated[r];
    ojson logprobs = nullptr;
    size_t offset = 0;
    if (!steps.empty())
      logprobs = job.chat ? chat_logprobs(tok, text_logprobs(steps[r], rt))
                          : completion_logprobs(tok, text_logprobs(steps[r], rt), offset);
    if (!job.chat) {
      choices.push_back({{"text", text}, {"index", r}, {"logprobs", std::move(logprobs)}, {"finish_reason", finish}});
      continue;
    }
    ojson message = {{"role", "assistant"}, {"content", text}};
    if (job.tool_format != ToolFormat::kNone) {
      ToolDelta d = parse_tool_calls(job.tool_format, text, engine.limits.json_max_depth);
      if (!d.calls.empty()) {
        message["content"] = d.content.empty() ? ojson(nullptr) : ojson(d.content);
        ojson calls = ojson::array();
        for (size_t k = 0; k < d.calls.size() && (job.parallel_tool_calls || k == 0); ++k)
          calls.push_back(tool_call_json(d.calls[k], k, false));
        message["tool_calls"] = std::move(calls);
        finish = "tool_calls";
      }
    }
    choices.push_back(
        {{"index", r}, {"message", std::move(message)}, {"logprobs", std::move(logprobs)}, {"finish_reason", finish}});
  }
  control.completion_tokens = completion_tokens;
  return {{"id", job.id},
          {"object", job.chat ? "chat.completion" : "text_completion"},
          {"created", job.created},
          {"model", engine.name},
          {"choices", std::move(choices)},
          {"usage", usage(job, completion_tokens, out)}};
}

void stream_job(const Engine& engine, const Job& job, RunControl& control,
                const std::function<bool(const std::string&)>& write) {
  bool open = true;  // the client still reads
  auto send = [&](const ojson& chunk) {
    if (open && !write("data: " + dump(chunk) + "\n\n")) open = false;
    return open;
  };
  auto chunk = [&](ojson choices) {
    ojson c = {{"id", job.id},
               {"object", job.chat ? "chat.completion.chunk" : "text_completion"},
               {"created", job.created},
               {"model", engine.name},
               {"choices", std::move(choices)}};
    if (job.include_usage) c["usage"] = nullptr;
    return c;
  };
  const Tokenizer& tok = *engine.tokenizer;
  const ReplyTokens rt(engine, job);
  // Per choice: what was generated but not sent yet.
  struct Row {
    std::optional<StreamDecoder> decoder;
    std::optional<StopTrimmer> trim;
    std::optional<ToolCallParser> tools;
    std::vector<StepLogprobs> logprobs;  // entries of tokens whose text was not sent yet
    size_t text_offset = 0;
    int calls = 0;
  };
  // A chunk for choice r: `delta` (chat) or text (completions), with the pending log-probabilities.
  auto piece = [&](size_t r, Row& row, ojson delta, const std::string& text, const char* finish) {
    ojson choice;
    ojson logprobs = nullptr;
    if (job.logprobs >= 0 && (!row.logprobs.empty() || finish)) {
      logprobs = job.chat ? chat_logprobs(tok, row.logprobs) : completion_logprobs(tok, row.logprobs, row.text_offset);
      row.logprobs.clear();
    }
    if (job.chat) choice = {{"index", r}, {"delta", std::move(delta)}, {"logprobs", std::move(logprobs)}};
    else choice = {{"text", text}, {"index", r}, {"logprobs", std::move(logprobs)}};
    choice["finish_reason"] = finish ? ojson(finish) : ojson(nullptr);
    return chunk(ojson::array({std::move(choice)}));
  };
  // Sends what `text` (after stop trimming) adds to choice r: content, and tool calls when parsed.
  auto emit = [&](size_t r, Row& row, const std::string& text, bool last) {
    ToolDelta d;
    if (row.tools) {
      d = row.tools->push(text);
      if (last) {
        ToolDelta end = row.tools->finish();
        d.content += end.content;
        for (auto& c : end.calls) d.calls.push_back(std::move(c));
      }
    } else {
      d.content = text;
    }
    if (!d.content.empty()) send(piece(r, row, job.chat ? ojson{{"content", d.content}} : ojson(), d.content, nullptr));
    for (auto& c : d.calls) {
      const int k = row.calls++;
      if (!job.parallel_tool_calls && k > 0) continue;
      send(piece(r, row, {{"tool_calls", ojson::array({tool_call_json(c, size_t(k), true)})}}, "", nullptr));
    }
  };

  try {
    const auto prompts = rows_of(job);
    std::vector<Row> rows(prompts.size());
    for (auto& row : rows) {
      row.decoder.emplace(tok, !rt.keep_special);
      row.trim.emplace(job.stop);
      if (job.tool_format != ToolFormat::kNone) row.tools.emplace(job.tool_format, engine.limits.json_max_depth);
    }
    if (job.chat)
      for (size_t r = 0; r < rows.size(); ++r)
        send(chunk(ojson::array(
            {{{"index", r}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}})));

    GenerateHooks hooks = base_hooks(engine, job);
    hooks.logprobs = job.logprobs;
    hooks.on_step = [&](const StreamStep& step) {
      for (size_t r = 0; r < rows.size() && open; ++r) {
        if (!step.was_active[r]) continue;
        Row& row = rows[r];
        const int32_t t = step.tokens[r];
        if (job.logprobs >= 0 && !rt.is_end(t)) row.logprobs.push_back(step.logprobs[r]);
        if (rt.keep_special && rt.is_end(t)) continue;
        emit(r, row, row.trim->push(row.decoder->put(t)), false);
      }
      if (!open || (control.keep_going && !control.keep_going())) {
        control.cancelled = true;
        return false;
      }
      return true;
    };
    if (control.before_generate) control.before_generate();
    const GenerateOutput out = generate(*engine.model, prompts, job.config, hooks, assist(engine, job, prompts.size()));
    // Cancelled by drain or the request deadline: the stream still ends properly (final chunk
    // with finish_reason "length", usage, [DONE]).
    int completion_tokens = 0;
    for (size_t r = 0; r < rows.size(); ++r) {
      Row& row = rows[r];
      std::string tail = row.trim->push(row.decoder->finish());
      tail += row.trim->finish();
      emit(r, row, tail, true);
      const char* finish = row.calls > 0           ? "tool_calls"
                           : row.trim->hit()       ? "stop"
                           : control.cancelled     ? "length"
                                                   : finish_name(out.finish_reasons[r]);
      send(piece(r, row, ojson::object(), "", finish));
      completion_tokens += out.num_generated[r];
    }
    control.completion_tokens = completion_tokens;
    if (job.include_usage) {
      ojson last = chunk(ojson::array());
      last["usage"] = usage(job, completion_tokens, out);
      send(last);
    }
  } catch (const Error& e) {
    if (open) open = write(error_event(e.what(), e.kind() == ErrorKind::kInternal ? "server_error" : "invalid_request_error"));
  } catch (const std::bad_alloc&) {
    if (open) open = write(error_event("out of memory", "server_error"));
  } catch (const std::exception& e) {
    if (open) open = write(error_event(std::string("internal error: ") + e.what(), "server_error"));
  } catch (...) {
    if (open) open = write(error_event("internal error", "server_error"));
  }
  if (open) write("data: [DONE]\n\n");
}

}  // namespace autolm::server
