// Prometheus metrics of autolm_server (GET /metrics), named as vLLM names them so that
// existing dashboards and autoscalers work unchanged (docs/SERVER.md "Metrics").
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace autolm::server {

// A cumulative histogram with fixed upper bounds (seconds), as Prometheus' text format wants.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}
  void observe(double v);
  // "# TYPE name histogram" and its _bucket / _sum / _count lines, with `labels` (k="v",...).
  std::string text(const std::string& name, const std::string& help, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative)
  uint64_t count_ = 0;
  double sum_ = 0;
};

struct Metrics {
  Metrics();
  std::atomic<uint64_t> prompt_tokens{0}, generation_tokens{0};
  std::atomic<uint64_t> rejected_queue_full{0}, http_requests{0};
  Histogram ttft, e2e;

  // Gauges read when rendering.
  struct Now {
    int running = 0, waiting = 0, connections = 0;
    double kv_usage = 0;  // 0..1
    // Continuous batching (StepBatcher::Stats): batched forward passes, the rows they stepped
    // (÷ steps: the mean batch) and prompt chunks run between them.
    uint64_t batched_steps = 0, batched_rows = 0, prefill_chunks = 0;
  };
  // The text exposition format (version 0.0.4).
  std::string text(const std::string& model_name, const Now& now) const;
};

}  // namespace autolm::server
