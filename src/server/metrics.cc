// Prometheus text exposition of autolm_server's metrics (metrics.h).
#include "server/metrics.h"

#include <algorithm>
#include <cstdio>

namespace autolm::server {

namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string escape_label(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string header(const std::string& name, const std::string& help, const char* type) {
  return "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

void Histogram::observe(double v) {
  std::lock_guard lock(mu_);
  const size_t i = size_t(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  if (i < counts_.size()) ++counts_[i];
  ++count_;
  sum_ += v;
}

std::string Histogram::text(const std::string& name, const std::string& help, const std::string& labels) const {
  std::lock_guard lock(mu_);
  std::string out = header(name, help, "histogram");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{" + labels + ",le=\"" + num(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(count_) + "\n";
  out += name + "_sum{" + labels + "} " + num(sum_) + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(count_) + "\n";
  return out;
}

// vLLM's buckets (vllm/engine/metrics.py).
Metrics::Metrics()
    : ttft({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
            160.0, 640.0, 2560.0}),
      e2e({0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0,
           1920.0, 7680.0}) {}

std::string Metrics::text(const std::string& model_name, const Now& now) const {
  const std::string labels = "model_name=\"" + escape_label(model_name) + "\"";
  std::string out;
  auto gauge = [&](const char* name, const char* help, double v) {
    out += header(name, help, "gauge") + name + "{" + labels + "} " + num(v) + "\n";
  };
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    out += header(name, help, "counter") + name + "{" + labels + "} " + std::to_string(v) + "\n";
  };
  gauge("vllm:num_requests_running", "Number of requests generating now.", now.running);
  gauge("vllm:num_requests_waiting", "Number of requests waiting for a generation worker.", now.waiting);
  gauge("vllm:kv_cache_usage_perc", "Estimated KV-cache memory of running requests, as a fraction of the budget (1 = 100%).",
        now.kv_usage);
  gauge("vllm:gpu_cache_usage_perc", "Same as vllm:kv_cache_usage_perc (the name older vLLM versions use).", now.kv_usage);
  counter("vllm:prompt_tokens_total", "Prompt tokens of the requests that ran.", prompt_tokens.load());
  counter("vllm:generation_tokens_total", "Tokens generated.", generation_tokens.load());
  out += ttft.text("vllm:time_to_first_token_seconds", "Time to first token, from the request's arrival.", labels);
  out += e2e.text("vllm:e2e_request_latency_seconds", "End-to-end request latency, from arrival to the last token.", labels);
  counter("autolm:requests_rejected_queue_full_total", "Requests refused with 429 because the waiting queue was full.",
          rejected_queue_full.load());
  counter("autolm:http_requests_total", "HTTP requests read.", http_requests.load());
  gauge("autolm:http_connections", "Open HTTP connections.", now.connections);
  counter("autolm:batched_steps_total", "Batched decode steps (one forward pass over every request waiting for a token).",
          now.batched_steps);
  counter("autolm:batched_rows_total", "Rows stepped by the batched decode steps (divided by the steps: the mean batch).",
          now.batched_rows);
  counter("autolm:prefill_chunks_total", "Prompt chunks run between batched decode steps.", now.prefill_chunks);
  return out;
}

}  // namespace autolm::server
