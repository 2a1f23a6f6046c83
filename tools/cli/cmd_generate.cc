// `autolm generate`: text or token-id prompts through generate(), flags named after HF's
// GenerationConfig fields; streams text to the terminal by default; Ctrl-C stops cleanly.
#include <atomic>
#include <csignal>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "autolm/generation.h"
#include "autolm/tokenizer.h"
#include "common.h"
#include "structured_output.h"

namespace autolm::cli {

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted = true; }

// One CLI flag per GenerationConfig field: --kebab-case ↔ snake_case, with its JSON type.
enum class FieldType { kInt, kFloat, kIntList };
struct FieldFlag {
  const char* field;
  FieldType type;
  const char* help;
};
const std::vector<FieldFlag>& field_flags() {
  static const std::vector<FieldFlag> flags = {
      {"max_new_tokens", FieldType::kInt, "maximum number of new tokens"},
      {"max_length", FieldType::kInt, "maximum total length (causal: prompt included)"},
      {"min_new_tokens", FieldType::kInt, "EOS is banned until this many new tokens"},
      {"min_length", FieldType::kInt, "EOS is banned while shorter than this"},
      {"temperature", FieldType::kFloat, "sampling temperature (> 0)"},
      {"top_k", FieldType::kInt, "keep the k most likely tokens (0 disables)"},
      {"top_p", FieldType::kFloat, "nucleus sampling mass in (0, 1]"},
      {"min_p", FieldType::kFloat, "drop tokens below min_p × the top probability"},
      {"typical_p", FieldType::kFloat, "locally typical sampling mass in (0, 1]"},
      {"repetition_penalty", FieldType::kFloat, "penalise tokens already present (> 0, 1 disables)"},
      {"no_repeat_ngram_size", FieldType::kInt, "never repeat an n-gram of this size"},
      {"encoder_no_repeat_ngram_size", FieldType::kInt, "never copy an encoder n-gram of this size"},
      {"num_beams", FieldType::kInt, "beam search width (1 = greedy or sampling)"},
      {"num_return_sequences", FieldType::kInt, "sequences returned per prompt"},
      {"length_penalty", FieldType::kFloat, "beam score exponent on length"},
      {"forced_bos_token_id", FieldType::kInt, "token forced first"},
      {"forced_eos_token_id", FieldType::kIntList, "token(s) forced at max_length"},
      {"eos_token_id", FieldType::kIntList, "end-of-sequence id(s), comma-separated"},
      {"pad_token_id", FieldType::kInt, "padding id"},
      {"bos_token_id", FieldType::kInt, "beginning-of-sequence id"},
      {"decoder_start_token_id", FieldType::kInt, "seq2seq: first decoder id"},
      {"suppress_tokens", FieldType::kIntList, "ids never generated"},
      {"begin_suppress_tokens", FieldType::kIntList, "ids not generated first"},
      {"prompt_lookup_num_tokens", FieldType::kInt, "prompt lookup decoding: draft up to N tokens copied from the text"},
      {"max_matching_ngram_size", FieldType::kInt, "prompt lookup: longest n-gram matched (default 2)"},
      {"assistant_ensemble_weight", FieldType::kFloat, "assistant: lossy ensemble verification weight in (0, 1)"},
  };
  return flags;
}

std::string kebab(std::string s) {
  for (char& c : s)
    if (c == '_') c = '-';
  return s;
}

struct GenerateOpts {
  std::string dir, cls, dtype = "auto", task, early_stopping, assistant_dir, schedule;
  std::map<std::string, std::string> assistant_fields;  // num_assistant_tokens, assistant_confidence_threshold
  std::vector<std::string> prompts, input_ids, stop, bad_words;
  std::map<std::string, std::string> fields;  // field → raw flag value
  bool json = false, no_stream = false, do_sample = false, greedy = false, truncation = false, renormalize = false,
       no_cache = false;
  uint64_t seed = 0;
  bool seed_set = false;
  uint64_t global_tokens = 0;  // LED: the first N tokens of every prompt get global attention
  StructuredOutputOpts structured;
};

// "none" switches a field off, as `generation_config.<field> = None` does in transformers (a
// file's forced_bos_token_id, suppress_tokens…); GenerationConfig::update resets it on null.
bool is_none(const std::string& raw) { return raw == "none" || raw == "None" || raw == "null"; }

nlohmann::json parse_field(const FieldFlag& f, const std::string& raw) {
  const std::string flag = "--" + kebab(f.field);
  if (is_none(raw)) return nullptr;
  try {
    switch (f.type) {
      case FieldType::kInt:  // 64 bits here; update() checks the field's own range, naming the flag
        return parse_int(raw, flag, INT64_MIN, INT64_MAX);
      case FieldType::kFloat: {
        size_t used = 0;
        double v = std::stod(raw, &used);
        if (used != raw.size()) throw std::invalid_argument(raw);
        return v;
      }
      case FieldType::kIntList: {
        auto ids = parse_ids(raw, flag);
        return ids.size() == 1 ? nlohmann::json(ids[0]) : nlohmann::json(ids);
      }
    }
  } catch (const std::logic_error&) {
    throw Error(ErrorKind::kInvalidInput, flag + ": \"" + raw + "\" is not a valid number");
  }
  return nullptr;
}

// task_specific_params[task] from config.json: a prefix for text prompts plus generation fields.
nlohmann::json task_params(const Model& model, const std::string& task) {
  const auto& raw = model.config().raw;
  const std::string source = model.config().dir + "/config.json";
  if (!raw.contains("task_specific_params") || !raw["task_specific_params"].is_object())
    throw Error(ErrorKind::kInvalidInput, "--task " + task + ": " + source + " has no task_specific_params");
  const auto& tsp = raw["task_specific_params"];
  if (!tsp.contains(task) || !tsp[task].is_object()) {
    std::string known;
    for (auto& [k, v] : tsp.items()) known += (known.empty() ? "" : ", ") + k;
    throw Error(ErrorKind::kInvalidInput, "--task: " + source + " has no task \"" + task + "\" settings object (known: " +
                                              known + ")");
  }
  return tsp[task];
}

// Longest input the model accepts, and where that limit comes from (0 = unbounded).
std::pair<int64_t, std::string> input_limit(const Model& model, const Tokenizer* tok, int max_new) {
  int64_t limit = 0;
  std::string why;
  const auto& c = model.config();
  if (c.max_positions > 0) {
    limit = c.family == ModelFamily::kCausal ? std::max<int64_t>(0, c.max_positions - max_new) : c.max_positions;
    why = c.dir + "/config.json max positions " + std::to_string(c.max_positions) +
          (c.family == ModelFamily::kCausal ? " minus " + std::to_string(max_new) + " new tokens" : "");
  }
  if (tok && tok->model_max_length() > 0 && tok->model_max_length() < (int64_t(1) << 40) &&
      (limit == 0 || tok->model_max_length() < limit)) {
    limit = tok->model_max_length();
    why = "tokenizer_config.json model_max_length " + std::to_string(limit);
  }
  return {limit, why};
}

// Cuts a too-long prompt as transformers' truncation does: encoder inputs drop their end
// (keeping a trailing special token such as </s>); causal prompts keep their end unless
// tokenizer_config.json sets truncation_side.
void truncate_prompt(std::vector<int32_t>& ids, int64_t limit, const Model& model, const Tokenizer* tok) {
  if (int64_t(ids.size()) <= limit) return;
  std::string side = model.family() == ModelFamily::kCausal ? "left" : "right";
  if (tok && tok->tokenizer_config().contains("truncation_side")) side = tok->truncation_side();
  if (side == "left") {
    ids.erase(ids.begin(), ids.end() - limit);
  } else {
    const bool keep_last = tok && !ids.empty() && tok->is_special(ids.back()) && limit > 1;
    const int32_t last = ids.back();
    ids.resize(limit);
    if (keep_last) ids.back() = last;
  }
}

}  // namespace

void add_generate_command(CLI::App& app, int& rc) {
  auto o = std::make_shared<GenerateOpts>();
  auto* cmd = app.add_subcommand("generate", "generate text with HF GenerationConfig semantics");
  cmd->add_option("dir", o->dir, "Hugging Face model folder or Hub model id (org/name[@revision])")->required()->transform(model_dir_or_id());
  cmd->add_option("prompt", o->prompts, "text prompt(s); several form a batch");
  cmd->add_option("--input-ids", o->input_ids, "comma-separated prompt ids; repeat for a batch");
  add_load_options(cmd, o->cls, o->dtype, o->no_cache);
  for (const auto& f : field_flags()) {
    std::string field = f.field;
    cmd->add_option_function<std::string>("--" + kebab(field), [o, field](const std::string& v) { o->fields[field] = v; }, f.help);
  }
  cmd->add_flag("--do-sample", o->do_sample, "multinomial sampling instead of greedy / beam search");
  cmd->add_flag("--greedy", o->greedy, "force do_sample=false (overrides generation_config.json)");
  cmd->add_option("--early-stopping", o->early_stopping, "beam search: true, false or never");
  cmd->add_option("--bad-words-ids", o->bad_words, "comma-separated id sequence never generated; repeatable; none drops the file's");
  cmd->add_flag("--renormalize-logits", o->renormalize, "log-softmax after all processors");
  cmd->add_option("--stop", o->stop, "stop string (stop_strings); repeatable");
  // Read as text: CLI11 would wrap -1 and saturate 10^30 into some seed without a word.
  cmd->add_option_function<std::string>(
      "--seed",
      [o](const std::string& s) {
        o->seed = parse_u64(s, "--seed");
        o->seed_set = true;
      },
      "sampling seed (0 to 18446744073709551615)");
  cmd->add_option("--assistant-model", o->assistant_dir,
                  "assisted generation: a smaller model with the same vocabulary drafts tokens (folder or Hub id)")
      ->transform(model_dir_or_id());
  // As transformers reads them from assistant_model.generation_config, these set the assistant's.
  for (const auto& f : {FieldFlag{"num_assistant_tokens", FieldType::kInt, "assistant: draft tokens per step (default 20)"},
                        FieldFlag{"assistant_confidence_threshold", FieldType::kFloat,
                                  "assistant: stop drafting below this probability (default 0.4; 0 disables)"}}) {
    std::string field = f.field;
    cmd->add_option_function<std::string>("--" + kebab(field), [o, field](const std::string& v) { o->assistant_fields[field] = v; },
                                          f.help);
  }
  cmd->add_option("--num-assistant-tokens-schedule", o->schedule, "assistant: constant, heuristic or heuristic_transient");
  cmd->add_option_function<std::string>(
      "--global-attention-tokens", [o](const std::string& s) { o->global_tokens = parse_u64(s, "--global-attention-tokens"); },
      "LED: the first N tokens of every input get global attention (generate's global_attention_mask; the model card "
      "recommends 1)");
  cmd->add_option("--task", o->task, "apply config.json task_specific_params[TASK] (prefix and settings)");
  cmd->add_flag("--truncation", o->truncation, "cut inputs longer than the model accepts instead of failing");
  cmd->add_flag("--json", o->json,
                "print {\"sequences\", \"new_tokens\", \"text\", \"sequences_scores\"} (assisted: \"draft_tokens\", "
                "\"accepted_draft_tokens\")");
  cmd->add_flag("--no-stream", o->no_stream, "print the text at the end instead of streaming it");
  add_structured_output_options(cmd, o->structured);
  cmd->callback([o, &rc] {
    if (o->prompts.empty() && o->input_ids.empty())
      throw Error(ErrorKind::kInvalidInput, "generate: give a text prompt or --input-ids");
    if (!o->prompts.empty() && !o->input_ids.empty())
      throw Error(ErrorKind::kInvalidInput, "generate: give either text prompts or --input-ids, not both");
    auto model = load_with_class(o->dir, o->cls, o->dtype, o->no_cache);
    // Text needs the tokenizer; token-id prompts also print text when the folder has one.
    std::shared_ptr<const Tokenizer> tok;
    try {
      tok = AutoTokenizer::from_pretrained(o->dir);
    } catch (const Error& e) {
      if (!o->prompts.empty() || e.kind() != ErrorKind::kNotFound) throw;
    }

    GenerationConfig config = GenerationConfig::for_model(*model);
    nlohmann::json overrides = nlohmann::json::object();
    std::string prefix;
    if (!o->task.empty()) {
      nlohmann::json tp = task_params(*model, o->task);
      const std::string source = model->config().dir + "/config.json task_specific_params." + o->task;
      for (auto& [k, v] : tp.items()) {
        if (k != "prefix") overrides[k] = v;
        else if (v.is_string()) prefix = v.get<std::string>();
        else throw Error(ErrorKind::kInvalidInput, source + ": \"prefix\" must be a string, got " + v.dump());
      }
      config.update(overrides, source);
      overrides = nlohmann::json::object();
    }
    // One update per flag, so that a value out of the field's range is reported with its flag.
    for (const auto& f : field_flags())
      if (o->fields.count(f.field))
        config.update({{f.field, parse_field(f, o->fields[f.field])}}, "--" + kebab(f.field));
    if (o->do_sample) overrides["do_sample"] = true;
    if (o->greedy) overrides["do_sample"] = false;
    if (o->renormalize) overrides["renormalize_logits"] = true;
    if (!o->early_stopping.empty()) {
      if (o->early_stopping == "true") overrides["early_stopping"] = true;
      else if (o->early_stopping == "false") overrides["early_stopping"] = false;
      else if (o->early_stopping == "never") overrides["early_stopping"] = "never";
      else throw Error(ErrorKind::kInvalidInput, "--early-stopping: \"" + o->early_stopping + "\" (true, false or never)");
    }
    if (o->bad_words.size() == 1 && is_none(o->bad_words[0])) {
      overrides["bad_words_ids"] = nullptr;  // --bad-words-ids none: drop the file's list
    } else if (!o->bad_words.empty()) {
      nlohmann::json bw = nlohmann::json::array();
      for (auto& b : o->bad_words) bw.push_back(parse_ids(b, "--bad-words-ids"));
      overrides["bad_words_ids"] = bw;
    }
    if (!o->stop.empty()) overrides["stop_strings"] = o->stop;
    config.update(overrides, "command line");
    if (o->seed_set) config.seed = o->seed;
    config.validate();

    // Prompts → ids.
    std::vector<std::vector<int32_t>> prompts;
    for (const auto& p : o->prompts) prompts.push_back(tok->encode(prefix + p, true));
    for (const auto& p : o->input_ids) {
      prompts.push_back(parse_ids(p, "--input-ids"));
      check_vocab(prompts.back(), model->config().vocab_size, "--input-ids");
    }
    const int max_new = config.max_new_tokens.value_or(20);
    auto [limit, why] = input_limit(*model, tok.get(), max_new);
    for (auto& p : prompts) {
      if (limit > 0 && int64_t(p.size()) > limit) {
        if (!o->truncation)
          throw Error(ErrorKind::kInvalidInput, "input of " + std::to_string(p.size()) + " tokens is longer than the " +
                                                    std::to_string(limit) + " the model accepts (" + why +
                                                    "); pass --truncation to cut it");
        truncate_prompt(p, limit, *model, tok.get());
      }
    }

    // Streaming: text of a single sequence, to a terminal-like stdout, unless --json/--no-stream.
    const bool stream = tok && !o->json && !o->no_stream && prompts.size() == 1 && config.num_beams == 1 &&
                        config.num_return_sequences == 1;
    GenerateHooks hooks;
    if (tok) hooks.decode = [tok](std::span<const int32_t> ids) { return tok->decode(ids, false); };
    hooks.constraint = structured_output_constraint(o->structured, tok.get());
    g_interrupted = false;
    auto previous = std::signal(SIGINT, on_sigint);
    std::unique_ptr<StreamDecoder> streamer;
    if (stream) streamer = std::make_unique<StreamDecoder>(*tok, true);
    // Beam search takes no step callback (as in transformers): it runs to the end.
    if (config.num_beams == 1)
      hooks.on_step = [&](const StreamStep& step) {
        if (streamer && step.was_active[0]) std::cout << streamer->put(step.tokens[0]) << std::flush;
        return !g_interrupted.load();
      };
    // The assistant model and its generation config (the file's, then the --*assistant* flags).
    std::shared_ptr<const Model> assistant;
    GenerationConfig assistant_config;
    if (!o->assistant_dir.empty()) {
      assistant = load_model(o->assistant_dir, LoadOptions{.dtype = parse_dtype(o->dtype, "--dtype"), .weight_cache = !o->no_cache});
      assistant_config = GenerationConfig::for_model(*assistant);
    } else if (!o->assistant_fields.empty() || !o->schedule.empty()) {
      throw Error(ErrorKind::kInvalidInput, "--num-assistant-tokens, --num-assistant-tokens-schedule and "
                                            "--assistant-confidence-threshold need --assistant-model");
    }
    for (const auto& [field, raw] : o->assistant_fields) {
      const bool is_int = field == "num_assistant_tokens";
      assistant_config.update({{field, parse_field(FieldFlag{field.c_str(), is_int ? FieldType::kInt : FieldType::kFloat, ""}, raw)}},
                              "--" + kebab(field));
    }
    if (!o->schedule.empty())
      assistant_config.update({{"num_assistant_tokens_schedule", o->schedule}}, "--num-assistant-tokens-schedule");
    assistant_config.validate();
    GenerateOptions options{.assistant_model = assistant.get(), .assistant_generation_config = &assistant_config};
    if (o->global_tokens > 0)  // the first N tokens of each prompt (all of a shorter one)
      for (const auto& p : prompts) {
        auto& row = options.global_attention_mask.emplace_back(p.size(), 0);
        std::fill_n(row.begin(), std::min<uint64_t>(o->global_tokens, p.size()), 1);
      }
    const bool assisted = assistant || config.prompt_lookup_num_tokens;

    GenerateOutput out;
    try {
      out = generate(*model, prompts, config, hooks, options);
    } catch (...) {
      std::signal(SIGINT, previous);
      throw;
    }
    std::signal(SIGINT, previous);

    std::vector<std::string> texts;
    if (tok)
      for (const auto& seq : out.new_tokens) texts.push_back(tok->decode(seq, true));
    if (o->json) {
      nlohmann::json j = {{"sequences", out.sequences}, {"new_tokens", out.new_tokens}};
      if (tok) j["text"] = texts;
      if (!out.sequences_scores.empty()) j["sequences_scores"] = out.sequences_scores;
      if (assisted) {  // acceptance of the drafts
        j["draft_tokens"] = out.draft_tokens;
        j["accepted_draft_tokens"] = out.accepted_draft_tokens;
      }
      std::cout << j.dump() << "\n";
    } else if (streamer) {
      std::cout << streamer->finish() << "\n";
    } else if (tok) {
      for (const auto& t : texts) std::cout << t << "\n";
    } else {
      for (const auto& seq : out.new_tokens) {
        for (size_t i = 0; i < seq.size(); ++i) std::cout << (i ? "," : "") << seq[i];
        std::cout << "\n";
      }
    }
    if (g_interrupted) std::cerr << "(interrupted)\n";
    rc = 0;
  });
}

}  // namespace autolm::cli
