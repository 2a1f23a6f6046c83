// Continuous batching: the step batcher thread and the Model that routes decode() to it (batcher.h).
#include "server/batcher.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "autolm/error.h"

namespace autolm::server {

StepBatcher::StepBatcher(std::shared_ptr<const Model> model, int prefill_chunk)
    : model_(std::move(model)), chunk_(prefill_chunk), thread_([this] { loop(); }) {}

StepBatcher::~StepBatcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

std::span<const float> StepBatcher::step(BatchedState& state, std::span<const int32_t> ids,
                                         std::span<const int32_t> mask) {
  Call call;
  call.state = &state;
  call.ids = ids;
  call.mask = mask;
  return wait(call, true);
}

std::span<const float> StepBatcher::prefill(BatchedState& state, std::span<const int32_t> ids,
                                            std::span<const int32_t> mask, int seq_len) {
  Call call;
  call.state = &state;
  call.ids = ids;
  call.mask = mask;
  call.seq_len = seq_len;
  return wait(call, false);
}

BatchedState::~BatchedState() {
  if (member_ && batcher_) batcher_->leave();
}

void StepBatcher::leave() {
  {
    std::lock_guard lock(mu_);
    --members_;
  }
  work_cv_.notify_one();
}

std::span<const float> StepBatcher::wait(Call& call, bool is_step) {
  std::unique_lock lock(mu_);
  if (is_step && !call.state->member_) {
    call.state->member_ = true;
    ++members_;
  }
  if (is_step) steps_.push_back(&call);
  else prefills_.push_back(&call);
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return call.done; });
  if (call.error) std::rethrow_exception(call.error);
  return call.state->logits();
}

void StepBatcher::hold_next_step(int calls) {
  std::lock_guard lock(mu_);
  hold_ = size_t(std::max(calls, 0));
}

StepBatcher::Stats StepBatcher::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

// Each iteration: one batched step over every request waiting for one (woken at once, so they
// sample while prompts run), then prompt chunks of the waiting prefills, oldest first, up to
// prefill_chunk tokens in all (at least one piece). A call is marked done under the lock and
// never touched again (its owner may return at once).
void StepBatcher::loop() {
  std::vector<Call*> batch;
  while (true) {
    Call* prefill = nullptr;
    {
      std::unique_lock lock(mu_);
      // Steps are ready when some wait and the test hold (if any) is met; stopping runs them anyway.
      auto steps_ready = [&] { return !steps_.empty() && (steps_.size() >= hold_ || stopping_); };
      work_cv_.wait(lock, [&] { return stopping_ || steps_ready() || !prefills_.empty(); });
      if (steps_.empty() && prefills_.empty()) return;  // stopping, nothing left
      // Gather: the requests the last step woke are sampling their next tokens on their own
      // threads. Unless a prompt is waiting (then the step runs at once, the prompt right after
      // it), the step waits until every member is back, up to half the last step's time
      // (0.2–20 ms): a step that left the late ones out would cost them a pass over the weights
      // of their own. (Running waiting prompts first instead measured slower: docs/SERVER.md.)
      if (steps_ready() && prefills_.empty() && !stopping_ && int(steps_.size()) < members_) {
        const double wait_s = std::clamp(last_step_s_ / 2, 0.0002, 0.02);
        work_cv_.wait_for(lock, std::chrono::duration<double>(wait_s),
                          [&] { return stopping_ || int(steps_.size()) >= members_ || !prefills_.empty(); });
      }
      if (steps_ready()) {
        batch.swap(steps_);
        steps_.clear();
        hold_ = 0;
      }
    }
    if (!batch.empty()) {
      const auto t0 = std::chrono::steady_clock::now();
      run_steps(batch);
      {
        std::lock_guard lock(mu_);
        last_step_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ++stats_.steps;
        stats_.last_batch = 0;
        for (const Call* c : batch) stats_.last_batch += c->state->batch_size();
        stats_.stepped_rows += uint64_t(stats_.last_batch);
        for (Call* c : batch) c->done = true;  // they sample their next tokens while prompts run
      }
      batch.clear();
      done_cv_.notify_all();
    }
    // Prompt tokens this turn, at most prefill_chunk (at least one piece): short prompts back to
    // back, a long one a chunk at a time.
    for (int budget = chunk_, ran = 0;; ++ran) {
      {
        std::lock_guard lock(mu_);
        prefill = prefills_.empty() ? nullptr : prefills_.front();
      }
      if (!prefill) break;
      const int piece = chunk_ > 0 ? std::min(chunk_, prefill->seq_len - prefill->done_tokens) : prefill->seq_len;
      if (ran > 0 && (chunk_ <= 0 || piece > budget)) break;  // the turn's prompt tokens are spent
      run_prefill_chunk(*prefill);
      budget -= piece;
      std::lock_guard lock(mu_);
      ++stats_.prefill_chunks;
      if (prefill->error || prefill->done_tokens >= prefill->seq_len) {
        prefills_.pop_front();
        prefill->done = true;
        done_cv_.notify_all();
      }
    }
  }
}

void StepBatcher::run_steps(std::vector<Call*>& calls) {
  states_.clear();
  ids_.clear();
  mask_.clear();
  const bool any_mask = std::any_of(calls.begin(), calls.end(), [](const Call* c) { return !c->mask.empty(); });
  for (const Call* c : calls) {
    states_.push_back(&c->state->inner());
    ids_.insert(ids_.end(), c->ids.begin(), c->ids.end());
    if (!any_mask) continue;
    if (c->mask.empty()) mask_.insert(mask_.end(), c->ids.size(), 1);
    else mask_.insert(mask_.end(), c->mask.begin(), c->mask.end());
  }
  const size_t V = size_t(model_->config().vocab_size);
  try {
    const std::span<const float> logits = model_->decode_batch(states_, ids_, mask_, scratch_);  // [rows, vocab]
    size_t row = 0;
    for (Call* c : calls) {
      const size_t n = size_t(c->state->batch_size());
      c->state->logits().assign(logits.begin() + std::ptrdiff_t(row * V), logits.begin() + std::ptrdiff_t((row + n) * V));
      row += n;
    }
  } catch (...) {
    // Nothing changed (decode_batch is all or nothing): each call alone, with its own result or error.
    for (Call* c : calls) {
      try {
        const std::span<const float> logits = model_->decode(c->ids, c->mask, 1, c->state->inner(), false);
        c->state->logits().assign(logits.begin(), logits.end());
      } catch (...) {
        c->error = std::current_exception();
      }
    }
  }
}

void StepBatcher::run_prefill_chunk(Call& c) {
  try {
    const int T = c.seq_len, rows = c.state->batch_size();
    const int n = chunk_ > 0 ? std::min(chunk_, T - c.done_tokens) : T;
    std::span<const float> logits;
    if (n == T) {
      logits = model_->decode(c.ids, c.mask, T, c.state->inner(), false);
    } else {  // columns [done, done + n) of every row
      if (c.ids.size() != size_t(rows) * size_t(T) || (!c.mask.empty() && c.mask.size() != c.ids.size()))
        throw Error(ErrorKind::kInvalidInput, "decode: got " + std::to_string(c.ids.size()) + " ids for batch " +
                                                  std::to_string(rows) + " × seq_len " + std::to_string(T));
      chunk_ids_.clear();
      chunk_mask_.clear();
      for (int r = 0; r < rows; ++r) {
        const size_t at = size_t(r) * size_t(T) + size_t(c.done_tokens);
        chunk_ids_.insert(chunk_ids_.end(), c.ids.begin() + std::ptrdiff_t(at), c.ids.begin() + std::ptrdiff_t(at + size_t(n)));
        if (!c.mask.empty())
          chunk_mask_.insert(chunk_mask_.end(), c.mask.begin() + std::ptrdiff_t(at), c.mask.begin() + std::ptrdiff_t(at + size_t(n)));
      }
      logits = model_->decode(chunk_ids_, chunk_mask_, n, c.state->inner(), false);
    }
    c.done_tokens += n;
    if (c.done_tokens >= T) c.state->logits().assign(logits.begin(), logits.end());
  } catch (...) {
    c.error = std::current_exception();
  }
}

BatchingModel::BatchingModel(std::shared_ptr<const Model> inner, int prefill_chunk) : inner_(std::move(inner)) {
  config_ = inner_->config();
  batcher_ = std::make_unique<StepBatcher>(inner_, prefill_chunk);
}

std::unique_ptr<DecodeState> BatchingModel::new_state(int batch_size, int max_length, int rows_per_input) const {
  return std::make_unique<BatchedState>(inner_->new_state(batch_size, max_length, rows_per_input), batcher_.get());
}

void BatchingModel::encode(std::span<const int32_t> ids, std::span<const int32_t> mask, int src_len,
                           DecodeState& state) const {
  inner_->encode(ids, mask, src_len, static_cast<BatchedState&>(state).inner());
}

std::span<const float> BatchingModel::decode(std::span<const int32_t> ids, std::span<const int32_t> mask, int seq_len,
                                             DecodeState& base, bool all_positions) const {
  auto& state = static_cast<BatchedState&>(base);
  if (all_positions) return inner_->decode(ids, mask, seq_len, state.inner(), true);  // assisted generation: alone
  if (seq_len == 1) return batcher_->step(state, ids, mask);
  return batcher_->prefill(state, ids, mask, seq_len);
}

}  // namespace autolm::server
