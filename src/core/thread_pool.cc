#include "core/thread_pool.h"

#include <cstdlib>
#include <string>

#if defined(__x86_64__)
#include <immintrin.h>
#define AUTOLM_PAUSE() _mm_pause()
#else
#define AUTOLM_PAUSE() ((void)0)
#endif

namespace autolm {

namespace {

// About 5-20 µs of polling before sleeping: long enough to catch the next kernel of a decode
// step on an idle machine, short enough not to starve other work on a busy one.
constexpr int kSpinIterations = 1000;
thread_local bool t_in_pool_task = false;

int default_threads() {
  for (const char* var : {"AUTOLM_NUM_THREADS", "OMP_NUM_THREADS"})
    if (const char* v = std::getenv(var)) {
      const int n = std::atoi(v);
      if (n > 0) return n;
    }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? int(hw) : 1;
}

template <typename T, typename Pred>
void spin_then_wait(std::atomic<T>& a, Pred done) {
  for (int i = 0; i < kSpinIterations; ++i) {
    if (done(a.load(std::memory_order_acquire))) return;
    AUTOLM_PAUSE();
  }
  T v = a.load(std::memory_order_acquire);
  while (!done(v)) {
    a.wait(v, std::memory_order_acquire);
    v = a.load(std::memory_order_acquire);
  }
}

}  // namespace

ThreadPool& ThreadPool::global() {
  static ThreadPool pool(default_threads());
  return pool;
}

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stop_ = true;
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  while (true) {
    spin_then_wait(generation_, [seen](uint64_t g) { return g != seen; });
    seen = generation_.load(std::memory_order_acquire);
    if (stop_) return;
    t_in_pool_task = true;
    (*task_)(index, size());
    t_in_pool_task = false;
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  std::unique_lock<std::mutex> lock(busy_, std::try_to_lock);
  if (workers_.empty() || t_in_pool_task || !lock.owns_lock()) {
    fn(0, 1);
    return;
  }
  task_ = &fn;
  pending_.store(int(workers_.size()), std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  t_in_pool_task = true;
  fn(0, size());
  t_in_pool_task = false;
  spin_then_wait(pending_, [](int p) { return p == 0; });
}

void ThreadPool::parallel_for(int64_t n, int64_t min_per_thread, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (workers_.empty() || n < 2 * min_per_thread || t_in_pool_task) {
    fn(0, n);
    return;
  }
  run([&](int t, int threads) {
    const int64_t b = n * t / threads, e = n * (t + 1) / threads;
    if (b < e) fn(b, e);
  });
}

}  // namespace autolm
