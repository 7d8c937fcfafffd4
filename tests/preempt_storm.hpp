// Plain threads that hit every processor running a goroutine, over and over
// with a short pause: processor_storm in general, and preempt_storm, which
// asks every running goroutine to yield the way sysmon does after a time
// slice, thousands of preemption requests (preempt flag and SIGURG) a
// second. Shared by the tests that need preemptions (or other signals) to
// land at will rather than every 10 ms.
#pragma once

#include "sched.hpp"
#include "sysmon.hpp"

#include <atomic>
#include <chrono>
#include <thread>

namespace rill_test {

// Until destroyed, each round calls each(p) for every processor p running
// a goroutine, then after_round(round), then pauses.
class processor_storm {
public:
    template <class Each, class AfterRound>
    processor_storm(std::chrono::microseconds pause, Each each, AfterRound after_round)
        : thread_([this, pause, each, after_round] {
              using namespace rill::detail;
              for (unsigned round = 0; !stop_.load(); ++round) {
                  int n = sched.nallp.load();
                  for (int i = 0; i < n; ++i)
                      if (sched.allp[i]->status.load() == P::running) each(sched.allp[i]);
                  after_round(round);
                  std::this_thread::sleep_for(pause);
              }
          }) {}
    processor_storm(const processor_storm&) = delete;
    processor_storm& operator=(const processor_storm&) = delete;
    ~processor_storm() {
        stop_.store(true);
        thread_.join();
    }

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

class preempt_storm : processor_storm {
public:
    preempt_storm()
        : processor_storm(
              std::chrono::microseconds(50),
              [](rill::detail::P* p) { rill::detail::preemptone(p); }, [](unsigned) {}) {}
};

} // namespace rill_test
