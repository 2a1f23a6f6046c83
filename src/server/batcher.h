// Continuous batching for autolm_server (docs/SERVER.md "Continuous batching"). Every running
// request keeps its own generate() — sampling, processors, stop strings, logprobs, grammars,
// streaming: the one code path, so a batched request computes what it computes alone — on its
// own worker thread, against a BatchingModel. Its decode steps (one token per row) do not run
// there: they are handed to one StepBatcher thread, which runs a single Model::decode_batch over
// every request waiting for its next step, then wakes each with its own logits. Prompts
// (prefill) run on the same thread between steps, up to `prefill_chunk` tokens per turn (a long
// prompt in chunks), so a long prompt delays the running streams by one chunk at a time. A request joins the batch at its
// first step after its prefill and leaves when its generate() returns (finished, cancelled by
// its keep_going hook, or past its deadline) — between two steps, never in the middle of one.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "autolm/model.h"

namespace autolm::server {

class StepBatcher;

// The state a BatchingModel hands out: the real model's state, and the logits of its last call
// (copied out of the batch, valid until its next call as Model::decode promises).
class BatchedState : public DecodeState {
 public:
  BatchedState(std::unique_ptr<DecodeState> inner, StepBatcher* batcher) : inner_(std::move(inner)), batcher_(batcher) {}
  ~BatchedState() override;  // leaves the batch (StepBatcher::leave) if it stepped
  BatchedState(const BatchedState&) = delete;
  BatchedState& operator=(const BatchedState&) = delete;
  int batch_size() const override { return inner_->batch_size(); }
  int length() const override { return inner_->length(); }
  void reorder(std::span<const int> src) override { inner_->reorder(src); }
  void truncate(int length) override { inner_->truncate(length); }
  DecodeState& inner() { return *inner_; }
  std::vector<float>& logits() { return logits_; }

 private:
  friend class StepBatcher;
  std::unique_ptr<DecodeState> inner_;
  std::vector<float> logits_;
  StepBatcher* batcher_ = nullptr;
  bool member_ = false;  // stepped at least once: the batcher counts it among the requests it gathers
};

// One thread running batched decode steps and chunked prefills over `model`.
class StepBatcher {
 public:
  StepBatcher(std::shared_ptr<const Model> model, int prefill_chunk);
  ~StepBatcher();
  StepBatcher(const StepBatcher&) = delete;
  StepBatcher& operator=(const StepBatcher&) = delete;

  // Block until the batch thread ran this state's call: a step (seq_len 1) batched with the
  // other waiting steps, or a prefill (seq_len > 1) in chunks between steps. Returns the logits
  // ([rows, vocab] of each row's last token) in state.logits(); rethrows what the call threw.
  std::span<const float> step(BatchedState& state, std::span<const int32_t> ids, std::span<const int32_t> mask);
  std::span<const float> prefill(BatchedState& state, std::span<const int32_t> ids, std::span<const int32_t> mask,
                                 int seq_len);

  struct Stats {
    uint64_t steps = 0;         // batched forward passes
    uint64_t stepped_rows = 0;  // rows over all of them (÷ steps: the mean batch)
    uint64_t prefill_chunks = 0;
    int last_batch = 0;         // rows of the last step
  };
  Stats stats() const;

  // Test hook: the next batched step waits until `calls` requests are waiting for one (prompts
  // still run meanwhile), then the hold is gone. Lets a test see two requests' steps share one
  // forward without relying on thread timing.
  void hold_next_step(int calls);

 private:
  struct Call {
    BatchedState* state = nullptr;
    std::span<const int32_t> ids, mask;
    int seq_len = 1, done_tokens = 0;  // prefill: tokens of each row run so far
    bool done = false;
    std::exception_ptr error;
  };
  std::span<const float> wait(Call& call, bool is_step);
  friend class BatchedState;
  void leave();  // a member state is gone (finished or cancelled): the next step no longer waits for it
  void loop();
  void run_steps(std::vector<Call*>& calls);
  void run_prefill_chunk(Call& call);

  const std::shared_ptr<const Model> model_;
  const int chunk_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<Call*> steps_;       // waiting for the next batched step
  std::deque<Call*> prefills_;     // waiting for (the rest of) their prefill, oldest first
  bool stopping_ = false;
  // Requests in the batch (states that stepped and still exist): a step waits briefly for all of
  // them to be back with their next token (see loop()); the last step's duration bounds that wait.
  int members_ = 0;
  double last_step_s_ = 0;
  size_t hold_ = 0;  // hold_next_step: calls the next step waits for (0: none)
  Stats stats_;
  // The batch thread's scratch: reused every step.
  BatchScratch scratch_;
  std::vector<DecodeState*> states_;
  std::vector<int32_t> ids_, mask_, chunk_ids_, chunk_mask_;
  std::thread thread_;
};

// A Model whose decode() goes through a StepBatcher (prefill and steps; calls asking for every
// position's logits — assisted generation's verification — run directly on the caller's thread).
// Everything else is the wrapped model's.
class BatchingModel : public Model {
 public:
  BatchingModel(std::shared_ptr<const Model> inner, int prefill_chunk);
  std::unique_ptr<DecodeState> new_state(int batch_size, int max_length, int rows_per_input) const override;
  void encode(std::span<const int32_t> ids, std::span<const int32_t> mask, int src_len, DecodeState& state) const override;
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int seq_len,
                                DecodeState& state, bool all_positions) const override;
  int64_t kv_bytes_per_token() const override { return inner_->kv_bytes_per_token(); }
  int64_t parameter_count() const override { return inner_->parameter_count(); }
  std::vector<std::string> weight_dtypes() const override { return inner_->weight_dtypes(); }
  std::vector<std::string> unused_tensors() const override { return inner_->unused_tensors(); }
  StepBatcher::Stats stats() const { return batcher_->stats(); }
  void hold_next_step(int calls) { batcher_->hold_next_step(calls); }  // test hook (StepBatcher)

 private:
  std::shared_ptr<const Model> inner_;
  std::unique_ptr<StepBatcher> batcher_;
};

}  // namespace autolm::server
