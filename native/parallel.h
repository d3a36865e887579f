// Work split over the addon's threads for kernels that are not sgemm (sgemm
// threads itself through OpenBLAS or its own row split). Tasks are claimed
// from a shared counter, so uneven tasks (causal rows) still balance.
//
// The helper threads are started once and then wait for work: starting and
// joining a std::thread per call cost ~75 µs here, as long as a whole GELU over
// 80 × 3072 values, and an ELDER iteration or a 20-token forward makes dozens
// of such calls.
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "kernels.h"

namespace elder {

// Helper threads that run one job at a time beside the calling thread. A call
// made while the pool is busy (from another Node thread, or nested inside a
// job) runs on its caller alone: correct, only not split.
class WorkerPool {
 public:
  // Runs job() on the caller and on `helpers` pool threads; returns when all have
  // returned. False, without running anything, when the pool is busy.
  bool run(int helpers, const std::function<void()>& job) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while ((int)threads_.size() < helpers) threads_.emplace_back([this] { loop(); });
      job_ = &job;
      slots_ = helpers;
      pending_ = helpers;
      ++generation_;
    }
    wake_.notify_all();
    job();
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
    return true;
  }

 private:
  void loop() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (slots_ == 0) continue;  // this job wants fewer helpers than the pool has
      --slots_;
      const std::function<void()>* job = job_;
      lock.unlock();
      (*job)();
      lock.lock();
      if (--pending_ == 0) finished_.notify_one();
    }
  }

  std::mutex busy_;   // held by the caller for a whole run
  std::mutex mutex_;  // guards the fields below
  std::condition_variable wake_, finished_;
  std::vector<std::thread> threads_;
  const std::function<void()>* job_ = nullptr;
  uint64_t generation_ = 0;
  int slots_ = 0, pending_ = 0;
};

// One pool per process, never destroyed: its threads wait on it until exit.
inline WorkerPool& workerPool() {
  static WorkerPool* pool = new WorkerPool();
  return *pool;
}

// Runs fn(task) for task in [0, tasks) on up to getThreads() threads. Below
// `minWorkPerThread` units of work per extra thread, waking a helper costs
// more than it saves, so small calls (one decoding step) stay on the caller.
// A unit is about one float operation of the vectorised kernels (~0.015 ns);
// a helper's wake-up and join cost ~10 µs, so a split pays from ~1e6 units.
template <typename F>
void parallelFor(int tasks, double work, F&& fn, double minWorkPerThread = 1e6) {
  int threads = std::min(getThreads(), tasks);
  threads = std::min<int>(threads, 1 + (int)(work / minWorkPerThread));
  std::atomic<int> next{0};
  auto worker = [&]() {
    for (int t = next.fetch_add(1); t < tasks; t = next.fetch_add(1)) fn(t);
  };
  if (threads > 1 && workerPool().run(threads - 1, std::function<void()>(worker))) return;
  worker();
}

}  // namespace elder
