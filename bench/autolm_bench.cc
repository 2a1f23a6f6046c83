// autolm_bench: loads one HF folder and runs the benchmark workloads of bench/run.py, printing
// one JSON object of timings on stdout. Threads come from OMP_NUM_THREADS / OPENBLAS_NUM_THREADS.
//
//   autolm_bench <dir> --prompts prompts.json [--new-tokens 128] [--workloads greedy,beam4,batch8,raw,prefill,prefill512,long4k]
//                [--dtype auto|float32|int8|int4|int4-g64]   (autolm::LoadOptions::dtype)
//
// prompts.json: {"greedy": [[ids…]], "batch": [[ids…] × 8]} (the same ids every engine gets).
// Workloads go through the public autolm::generate() (the path a user calls, logits processors
// and search included), with the generated length forced by min_new_tokens = max_new_tokens:
//   greedy  batch 1, greedy; on_step timestamps give time to first token and decode tokens/s
//   beam4   batch 1, num_beams 4 (no streaming for beams, as in HF): total time only
//   batch8  8 prompts, greedy: throughput = 8 × new tokens / total time
//   raw     batch 1, Model::decode driven directly with argmax (no generate() overhead)
//   prefill batch 1, encode or prefill + the first token only, 10 times: median and best (profiling TTFT)
//   prefill512  the same for the prompts file's "prefill512" prompt (512 tokens), 3 times
//               (AUTOLM_BENCH_REPEAT overrides both counts)
//   long4k  batch 1, greedy on the prompts file's "long4k" prompt (4,096 tokens): time to first
//           token, decode tokens/s, KV-cache bytes and peak RSS; skipped (with the reason) when
//           the prompt and the new tokens exceed the model's positions
//   plain   batch 1, greedy, end to end (prefill included): tokens/s = new tokens / total time
//   lookup  the same with prompt_lookup_num_tokens = --lookup-tokens (default 10)
//   assist  the same with --assistant DIR drafting --assistant-tokens (default 5, "constant",
//           confidence threshold 0.4) tokens per step
// plain / lookup / assist report draft acceptance and whether the tokens equal plain's.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autolm/auto.h"
#include "ops/linear.h"
#include "autolm/error.h"
#include "autolm/generation.h"
#include "autolm/model.h"

namespace {

using Clock = std::chrono::steady_clock;
double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;  // ru_maxrss is KiB on Linux
}

using Prompts = std::vector<std::vector<int32_t>>;

Prompts read_prompts(const nlohmann::json& j, const char* key) {
  Prompts p;
  for (const auto& row : j.at(key)) p.push_back(row.get<std::vector<int32_t>>());
  return p;
}

autolm::GenerationConfig make_config(const autolm::Model& model, int new_tokens, int beams) {
  autolm::GenerationConfig cfg = autolm::GenerationConfig::for_model(model);
  cfg.max_new_tokens = new_tokens;
  cfg.min_new_tokens = new_tokens;  // random weights stop anywhere: force the length
  cfg.max_length.reset();
  cfg.do_sample = false;
  cfg.num_beams = beams;
  cfg.num_return_sequences = 1;
  return cfg;
}

int min_generated(const autolm::GenerateOutput& out) {
  int n = out.num_generated.empty() ? 0 : out.num_generated[0];
  for (int g : out.num_generated) n = std::min(n, g);
  return n;
}

// Greedy / batched greedy through generate() with streaming timestamps.
nlohmann::json run_streamed(const autolm::Model& model, const Prompts& prompts, int new_tokens) {
  auto cfg = make_config(model, new_tokens, 1);
  Clock::time_point t_first{}, t_last{};
  int steps = 0;
  autolm::GenerateHooks hooks;
  hooks.on_step = [&](const autolm::StreamStep& s) {
    auto now = Clock::now();
    if (s.step == 0) t_first = now;
    t_last = now;
    ++steps;
    return true;
  };
  auto t0 = Clock::now();
  auto out = autolm::generate(model, prompts, cfg, hooks);
  auto t1 = Clock::now();
  const double total = secs(t0, t1);
  const double decode_s = secs(t_first, t_last);
  nlohmann::json r;
  r["batch"] = prompts.size();
  r["new_tokens"] = min_generated(out);
  r["total_s"] = total;
  r["ttft_s"] = secs(t0, t_first);
  r["decode_tok_s"] = steps > 1 && decode_s > 0 ? (steps - 1) * double(prompts.size()) / decode_s : 0.0;
  r["throughput_tok_s"] = double(prompts.size()) * min_generated(out) / total;
  return r;
}

nlohmann::json run_beam(const autolm::Model& model, const Prompts& prompts, int new_tokens, int beams) {
  auto cfg = make_config(model, new_tokens, beams);
  auto t0 = Clock::now();
  auto out = autolm::generate(model, prompts, cfg);
  const double total = secs(t0, Clock::now());
  nlohmann::json r;
  r["batch"] = prompts.size();
  r["num_beams"] = beams;
  r["new_tokens"] = min_generated(out);
  r["total_s"] = total;
  r["throughput_tok_s"] = double(prompts.size()) * min_generated(out) / total;
  return r;
}

// The model alone: encode (seq2seq) or prefill, then argmax steps through Model::decode.
nlohmann::json run_raw(const autolm::Model& model, const std::vector<int32_t>& prompt, int new_tokens) {
  const bool s2s = model.family() == autolm::ModelFamily::kSeq2Seq;
  const int plen = static_cast<int>(prompt.size());
  auto t0 = Clock::now();
  auto state = model.new_state(1, s2s ? new_tokens + 1 : plen + new_tokens);
  std::span<const float> logits;
  if (s2s) {
    model.encode(prompt, {}, plen, *state);
    const int32_t start = static_cast<int32_t>(model.config().decoder_start_token_id.value_or(0));
    logits = model.decode(std::span<const int32_t>(&start, 1), {}, 1, *state, false);
  } else {
    logits = model.decode(prompt, {}, plen, *state, false);
  }
  auto argmax = [](std::span<const float> l) {
    return static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
  };
  int32_t tok = argmax(logits);
  auto t_first = Clock::now();
  for (int i = 1; i < new_tokens; ++i) {
    logits = model.decode(std::span<const int32_t>(&tok, 1), {}, 1, *state, false);
    tok = argmax(logits);
  }
  auto t1 = Clock::now();
  nlohmann::json r;
  r["batch"] = 1;
  r["new_tokens"] = new_tokens;
  r["total_s"] = secs(t0, t1);
  r["ttft_s"] = secs(t0, t_first);
  r["decode_tok_s"] = (new_tokens - 1) / secs(t_first, t1);
  return r;
}

nlohmann::json run_prefill(const autolm::Model& model, const std::vector<int32_t>& prompt, int repeat) {
  if (const char* env = std::getenv("AUTOLM_BENCH_REPEAT")) repeat = std::max(1, std::atoi(env));
  std::vector<double> times;
  for (int i = 0; i < repeat; ++i) times.push_back(run_raw(model, prompt, 1)["ttft_s"].get<double>());
  std::sort(times.begin(), times.end());
  nlohmann::json r;
  r["batch"] = 1;
  r["ttft_s"] = times[times.size() / 2];
  r["ttft_best_s"] = times.front();
  return r;
}

// Greedy, batch 1, end to end, plain or assisted (bench/assisted.py).
nlohmann::json run_assisted(const autolm::Model& model, const Prompts& prompts, int new_tokens,
                            const autolm::GenerateOptions& options, int lookup_tokens) {
  auto cfg = make_config(model, new_tokens, 1);
  if (lookup_tokens > 0) cfg.prompt_lookup_num_tokens = lookup_tokens;
  const Prompts one = {prompts.at(0)};
  auto t0 = Clock::now();
  auto out = autolm::generate(model, one, cfg, {}, options);
  const double total = secs(t0, Clock::now());
  nlohmann::json r;
  r["batch"] = 1;
  r["new_tokens"] = min_generated(out);
  r["total_s"] = total;
  r["throughput_tok_s"] = min_generated(out) / total;
  r["draft_tokens"] = out.draft_tokens;
  r["accepted_draft_tokens"] = out.accepted_draft_tokens;
  r["tokens"] = out.new_tokens.at(0);
  return r;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <dir> --prompts file.json [--new-tokens N] [--workloads greedy,beam4,batch8,raw,prefill,prefill512,long4k]\n",
                 argv[0]);
    return 2;
  }
  std::string dir = argv[1], prompts_path;
  autolm::LoadOptions load_options;
  int new_tokens = 128, lookup_tokens = 10, assistant_tokens = 5;
  std::string assistant_dir;
  std::vector<std::string> workloads = {"greedy"};
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--prompts") prompts_path = v;
    else if (k == "--new-tokens") new_tokens = std::stoi(v);
    else if (k == "--workloads") workloads = split(v);
    else if (k == "--dtype") load_options.dtype = autolm::parse_dtype(v, "--dtype");
    else if (k == "--lookup-tokens") lookup_tokens = std::stoi(v);
    else if (k == "--assistant") assistant_dir = v;
    else if (k == "--assistant-tokens") assistant_tokens = std::stoi(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  try {
    std::ifstream f(prompts_path);
    if (!f) throw autolm::Error(autolm::ErrorKind::kNotFound, "cannot open prompts file " + prompts_path);
    const nlohmann::json pj = nlohmann::json::parse(f);
    const Prompts greedy = read_prompts(pj, "greedy"), batch = read_prompts(pj, "batch");

    nlohmann::json result;
    const auto t_load = Clock::now();
    auto model = autolm::load_model(dir, load_options);
    result["load_s"] = secs(t_load, Clock::now());
    result["dtype"] = load_options.dtype;
    result["blas_core"] = autolm::blas_core_name();  // OpenBLAS's kernel set (prompt GEMMs)
    // Cold start: load + prefill + first token, before anything has touched the weights.
    run_beam(*model, greedy, 1, 1);
    result["load_to_first_token_s"] = secs(t_load, Clock::now());
    result["rss_after_load_mb"] = peak_rss_mb();

    nlohmann::json w;
    for (const auto& name : workloads) {
      if (name == "greedy") {
        w[name] = run_streamed(*model, greedy, new_tokens);
        w[name]["peak_rss_mb"] = peak_rss_mb();
      } else if (name == "batch8") {
        w[name] = run_streamed(*model, batch, new_tokens);
      } else if (name == "beam4") {
        w[name] = run_beam(*model, greedy, new_tokens, 4);
      } else if (name == "prefill") {
        w[name] = run_prefill(*model, greedy[0], 10);
      } else if (name == "prefill512") {  // the prompts file's 512-token prompt (bench/run.py)
        if (!pj.contains("prefill512") || pj["prefill512"].empty())
          throw autolm::Error(autolm::ErrorKind::kInvalidInput, "prefill512 needs a \"prefill512\" prompt in " + prompts_path);
        w[name] = run_prefill(*model, read_prompts(pj, "prefill512").at(0), 3);
      } else if (name == "long4k") {  // the prompts file's 4,096-token prompt (bench/run.py)
        if (!pj.contains("long4k") || pj["long4k"].empty())
          throw autolm::Error(autolm::ErrorKind::kInvalidInput, "long4k needs a \"long4k\" prompt in " + prompts_path);
        const Prompts long_prompt = read_prompts(pj, "long4k");
        const int64_t len = int64_t(long_prompt.at(0).size()) + new_tokens;
        const int64_t max_pos = model->config().max_positions;
        if (max_pos > 0 && len > max_pos) {
          w[name] = {{"skipped", "prompt + new tokens (" + std::to_string(len) + ") exceed max_positions (" +
                                     std::to_string(max_pos) + ")"}};
          continue;
        }
        w[name] = run_streamed(*model, long_prompt, new_tokens);
        w[name]["prompt_tokens"] = long_prompt.at(0).size();
        w[name]["kv_bytes_per_token"] = model->kv_bytes_per_token();
        w[name]["kv_cache_mb"] = double(model->kv_bytes_per_token()) * double(len) / (1024.0 * 1024.0);
        w[name]["peak_rss_mb"] = peak_rss_mb();
      } else if (name == "plain") {
        w[name] = run_assisted(*model, greedy, new_tokens, {}, 0);
      } else if (name == "lookup") {
        w[name] = run_assisted(*model, greedy, new_tokens, {}, lookup_tokens);
      } else if (name == "assist") {
        if (assistant_dir.empty()) throw autolm::Error(autolm::ErrorKind::kInvalidInput, "assist needs --assistant DIR");
        auto assistant = autolm::load_model(assistant_dir, load_options);
        autolm::GenerationConfig acfg;
        acfg.num_assistant_tokens = assistant_tokens;
        acfg.num_assistant_tokens_schedule = "constant";
        w[name] = run_assisted(*model, greedy, new_tokens, {.assistant_model = assistant.get(), .assistant_generation_config = &acfg}, 0);
      } else if (name == "raw") {
        w[name] = run_raw(*model, greedy[0], new_tokens);
      } else {
        throw autolm::Error(autolm::ErrorKind::kInvalidInput, "unknown workload " + name);
      }
    }
    result["workloads"] = w;
    result["peak_rss_mb"] = peak_rss_mb();
    std::printf("%s\n", result.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "autolm_bench: %s\n", e.what());
    return 1;
  }
}
