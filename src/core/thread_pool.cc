#include "core/thread_pool.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <system_error>
#include <utility>

#include "autolm/error.h"

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
// More threads than this is a typo, not a machine: refused rather than spawned.
constexpr long kMaxThreads = 4096;
thread_local bool t_in_pool_task = false;

// Marks the calling thread as running a pool task for the life of the guard (exceptions too).
struct InTask {
  InTask() { t_in_pool_task = true; }
  ~InTask() { t_in_pool_task = false; }
};

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

int ThreadPool::default_threads() {
  for (const char* var : {"AUTOLM_NUM_THREADS", "OMP_NUM_THREADS"}) {
    const char* v = std::getenv(var);
    if (!v || !*v) continue;
    // OMP_NUM_THREADS may be a list ("8,4" for nested levels): the first entry counts.
    const bool ours = var[0] == 'A';
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(v, &end, 10);
    const bool parsed = errno == 0 && end != v && (*end == '\0' || (!ours && *end == ',')) && n >= 1;
    if (ours && (!parsed || n > kMaxThreads))
      throw Error(ErrorKind::kInvalidInput, std::string("environment variable ") + var + "=\"" + v +
                                                "\" is not a thread count between 1 and " + std::to_string(kMaxThreads));
    if (parsed) return int(std::min<long>(n, kMaxThreads));
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? int(std::min<unsigned>(hw, kMaxThreads)) : 1;
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool(default_threads());
  return pool;
}

ThreadPool::ThreadPool(int threads) {
  // A thread the system refuses to create (ulimit, memory) leaves a smaller pool, not an
  // exception out of a constructor that would leave joinable threads behind.
  for (int i = 1; i < threads; ++i) {
    try {
      workers_.emplace_back([this, i] { worker_loop(i); });
    } catch (const std::system_error&) {
      break;
    }
  }
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
    run_task(*task_, index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

void ThreadPool::run_task(const std::function<void(int, int)>& fn, int index) noexcept {
  InTask in_task;
  try {
    fn(index, size());
  } catch (...) {
    std::lock_guard<std::mutex> lock(error_mu_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  std::unique_lock<std::mutex> lock(busy_, std::try_to_lock);
  if (workers_.empty() || t_in_pool_task || !lock.owns_lock()) {
    fn(0, 1);
    return;
  }
  task_ = &fn;
  error_ = nullptr;
  pending_.store(int(workers_.size()), std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  run_task(fn, 0);
  // Workers still read fn: wait for all of them before anything (an exception) unwinds it.
  spin_then_wait(pending_, [](int p) { return p == 0; });
  if (std::exception_ptr e = std::exchange(error_, nullptr)) std::rethrow_exception(e);
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
