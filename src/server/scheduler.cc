// The bounded queue and workers behind autolm_server's generation routes (scheduler.h).
#include "server/scheduler.h"

#include <chrono>
#include <utility>

namespace autolm::server {

Scheduler::Scheduler(int workers, int max_queue, uint64_t memory_budget)
    : max_queue_(max_queue), memory_budget_(memory_budget) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
}

Scheduler::~Scheduler() { stop(); }

Scheduler::Admit Scheduler::submit(Task task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Admit::kStopped;
    if (memory_budget_ > 0 && task.memory > memory_budget_) return Admit::kTooBig;
    // A request waits only when every worker is busy; max_queue bounds how many may wait.
    const int busy = running_ + int(queue_.size());
    if (busy >= int(threads_.size()) + max_queue_) return Admit::kFull;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return Admit::kQueued;
}

void Scheduler::work() {
  while (true) {
    Task task;
    {
      std::unique_lock lock(mu_);
      // The oldest waiting request starts when a worker is free and its memory fits beside the
      // running ones' (alone it always fits: submit() refused any larger).
      auto fits = [&] {
        return !queue_.empty() &&
               (running_ == 0 || memory_budget_ == 0 || running_memory_ + queue_.front().memory <= memory_budget_);
      };
      cv_.wait(lock, [&] { return stopping_ || fits(); });
      if (!fits()) return;  // stopping
      task = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
      running_memory_ += task.memory;
    }
    bool done = false;
    const std::function<void()> finished = [&] {
      if (std::exchange(done, true)) return;
      {
        std::lock_guard lock(mu_);
        --running_;
        running_memory_ -= task.memory;
      }
      idle_cv_.notify_all();
      cv_.notify_all();  // its memory is free: a waiting request may fit now
    };
    task.run(finished);
    finished();
  }
}

void Scheduler::stop() {
  std::deque<Task> dropped;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  for (auto& t : dropped)
    if (t.drop) t.drop();
  dropped.clear();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  idle_cv_.notify_all();
}

int Scheduler::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

int Scheduler::waiting() const {
  std::lock_guard lock(mu_);
  return int(queue_.size());
}

uint64_t Scheduler::running_memory() const {
  std::lock_guard lock(mu_);
  return running_memory_;
}

bool Scheduler::wait_idle(double seconds) const {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return running_ == 0 && queue_.empty(); });
}

}  // namespace autolm::server
