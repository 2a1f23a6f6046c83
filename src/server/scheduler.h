// Admission and the generation workers of autolm_server: a bounded waiting queue feeding
// `workers` threads. Past `max_queue` waiting requests, submit() refuses (the server answers
// 429 with Retry-After) instead of letting the wait grow without bound.
//
// Today each worker runs one request's generate() at a time (requests do not share a batch).
// This is the seam for continuous batching (issue #15, waiting on ragged batches from #14):
// a Task then becomes a sequence that joins the running batch between decode steps, and the
// worker loop one batched step over every running sequence; submit(), the queue bound and
// the counters stay as they are.
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
  enum class Admit { kQueued, kFull, kStopped };

  Scheduler(int workers, int max_queue);
  ~Scheduler();  // stop()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  Admit submit(Task task);
  // Drops what still waits (each task's drop()), lets running tasks end, joins the workers.
  void stop();
  int running() const;
  int waiting() const;
  uint64_t running_memory() const;  // sum of Task::memory of the running tasks
  // Blocks until nothing runs or waits, or `seconds` passed; true when idle.
  bool wait_idle(double seconds) const;

 private:
  void work();

  const int max_queue_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_, idle_cv_;
  std::deque<Task> queue_;
  int running_ = 0;
  uint64_t running_memory_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace autolm::server
