// Work split over the addon's threads for kernels that are not sgemm (sgemm
// threads itself through OpenBLAS or its own row split). Tasks are claimed
// from a shared counter, so uneven tasks (causal rows) still balance.
#pragma once
#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "kernels.h"

namespace elder {

// Runs fn(task) for task in [0, tasks) on up to getThreads() threads. Below
// `minWorkPerThread` units of work per extra thread, starting a thread costs
// more than it saves, so small calls (one decoding step) stay on the caller.
template <typename F>
void parallelFor(int tasks, double work, F&& fn, double minWorkPerThread = 2e5) {
  int threads = std::min(getThreads(), tasks);
  threads = std::min<int>(threads, 1 + (int)(work / minWorkPerThread));
  if (threads <= 1) {
    for (int t = 0; t < tasks; ++t) fn(t);
    return;
  }
  std::atomic<int> next{0};
  auto worker = [&]() {
    for (int t = next.fetch_add(1); t < tasks; t = next.fetch_add(1)) fn(t);
  };
  std::vector<std::thread> helpers;
  helpers.reserve(threads - 1);
  for (int i = 1; i < threads; ++i) helpers.emplace_back(worker);
  worker();
  for (auto& helper : helpers) helper.join();
}

}  // namespace elder
