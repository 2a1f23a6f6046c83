// Admission and the generation workers of autolm_server: a bounded waiting queue feeding
// `workers` threads (`--max-batch`). Past `max_queue` waiting requests, submit() refuses (the
// server answers 429 with Retry-After) instead of letting the wait grow without bound. A request
// starts only when its estimated memory fits beside the running ones' in `memory_budget`
// (`--kv-budget`): otherwise it waits (first come, first served); one that could never fit is
// refused at once.
//
// Each worker runs one request's generate(); with continuous batching (batcher.h) the model
// behind it is a BatchingModel, so the running requests' decode steps are one batched forward
// pass: a request joins the batch when a worker takes it and leaves when its generate() returns.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace autolm::server {

class Scheduler {
 public:
  struct Task {
    // On a worker thread; must not throw. It may call finished() once its work is done and
    // before it sends its answer, so that a client that has the answer sees it counted as no
    // longer running (otherwise the worker counts it done when run returns).
    std::function<void(const std::function<void()>& finished)> run;
    std::function<void()> drop;  // instead of run, when the scheduler stops first; must not throw
    uint64_t memory = 0;         // estimated bytes while running (KV usage gauge)
  };
  enum class Admit { kQueued, kFull, kStopped, kTooBig };

  // memory_budget: bytes of Task::memory running at once (0 = no bound).
  Scheduler(int workers, int max_queue, uint64_t memory_budget = 0);
  ~Scheduler();  // stop()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // kTooBig: task.memory alone exceeds the budget (it would never start).
  Admit submit(Task task);
  // Drops what still waits (each task's drop()), lets running tasks end, joins the workers.
  void stop();
  int running() const;
  int waiting() const;
  uint64_t running_memory() const;  // sum of Task::memory of the running tasks
  uint64_t memory_budget() const { return memory_budget_; }
  // Blocks until nothing runs or waits, or `seconds` passed; true when idle.
  bool wait_idle(double seconds) const;

 private:
  void work();

  const int max_queue_;
  const uint64_t memory_budget_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_, idle_cv_;
  std::deque<Task> queue_;
  int running_ = 0;
  uint64_t running_memory_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace autolm::server
