// A plain thread that asks every running goroutine to yield, over and over,
// the way sysmon does after a time slice: thousands of preemption requests
// (preempt flag and SIGURG) a second. Shared by the tests that need
// preemptions to land at will rather than every 10 ms.
#pragma once

#include "sched.hpp"
#include "sysmon.hpp"

#include <atomic>
#include <chrono>
#include <thread>

namespace rill_test {

class preempt_storm {
public:
    preempt_storm()
        : thread_([this] {
              using namespace rill::detail;
              while (!stop_.load()) {
                  int n = sched.nallp.load();
                  for (int i = 0; i < n; ++i)
                      if (sched.allp[i]->status.load() == P::running) preemptone(sched.allp[i]);
                  std::this_thread::sleep_for(std::chrono::microseconds(50));
              }
          }) {}
    preempt_storm(const preempt_storm&) = delete;
    preempt_storm& operator=(const preempt_storm&) = delete;
    ~preempt_storm() {
        stop_.store(true);
        thread_.join();
    }

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

} // namespace rill_test
