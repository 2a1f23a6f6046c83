// The one thread pool of autolm's kernels. Workers spin briefly, then sleep on a futex
// (std::atomic::wait), so a loaded machine does not lose whole time slices to spinning threads
// the way OpenMP's default active wait does (measured: 5-10× slower decode under load).
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace autolm {

class ThreadPool {
 public:
  // AUTOLM_NUM_THREADS, else OMP_NUM_THREADS, else the hardware thread count.
  static ThreadPool& global();
  // The thread count global() uses. AUTOLM_NUM_THREADS must be an integer in [1, 4096] (an
  // Error naming it otherwise); OMP_NUM_THREADS, shared with other libraries, is used when it
  // parses ("8" or OpenMP's list form "8,4"), capped at 4096, and ignored otherwise.
  static int default_threads();
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // Runs fn(thread_index, num_threads) on every thread (the caller is thread 0) and returns
  // when all are done. Called from inside a task, or while another caller's task holds the
  // pool (several requests decoding at once), it runs fn(0, 1) inline on the calling thread.
  // An exception thrown by fn on any thread (autolm::Error, std::bad_alloc…) is rethrown here,
  // on the calling thread, once every thread has finished (the first one thrown wins); the
  // pool stays usable.
  void run(const std::function<void(int, int)>& fn);

  // Splits [0, n) into contiguous ranges, one per thread: fn(begin, end). Work below
  // `min_per_thread` items per thread stays on the calling thread.
  void parallel_for(int64_t n, int64_t min_per_thread, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker_loop(int index);
  // Runs the task as thread `index`; an exception is kept (the first one) for run() to rethrow.
  void run_task(const std::function<void(int, int)>& fn, int index) noexcept;

  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* task_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex busy_;  // one task at a time; other callers run inline
  std::mutex error_mu_;
  std::exception_ptr error_;  // first exception of the current task
};

}  // namespace autolm
