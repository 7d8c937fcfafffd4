// The runtime's counters as Prometheus metrics. Counters only ever grow
// (rill_*_total); the rest are gauges of the moment of the scrape.
#include <rill/admin/metrics.hpp>
#include <rill/runtime.hpp>

#include <cstdio>
#include <unistd.h>

namespace rill::admin {

namespace {

// Resident set size in bytes: the second field of /proc/self/statm, in
// pages. Read with stdio rather than a rill socket: a procfs read does not
// block. Absent (0) where /proc is not mounted.
double resident_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "re");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    int n = std::fscanf(f, "%lu %lu", &size, &resident);
    std::fclose(f);
    return n == 2 ? static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE))
                  : 0;
}

} // namespace

void write_runtime_metrics(exposition& out) {
    runtime_stats s = stats();
    using enum metric_type;
    auto d = [](std::uint64_t v) { return static_cast<double>(v); };
    out.add("rill_goroutines", gauge, "Goroutines alive.", d(s.goroutines_live));
    out.add("rill_goroutines_created_total", counter, "Goroutines created.",
            d(s.goroutines_created));
    out.add("rill_threads", gauge, "OS threads (Ms) the runtime has started.", d(s.threads));
    out.add("rill_processors", gauge, "Processors (Ps) running goroutines (maxprocs).",
            d(s.processors));
    out.add("rill_parks_total", counter, "Times a goroutine parked.", d(s.parks));
    out.add("rill_steals_total", counter, "Goroutines stolen from another processor's run queue.",
            d(s.steals));
    out.add("rill_preemptions_total", counter, "Goroutines preempted, by how.", {{"how", "signal"}},
            d(s.preempts_async));
    out.add("rill_preemptions_total", counter, "", {{"how", "cooperative"}}, d(s.preempts_coop));
    out.add("rill_slices_ended_total", counter, "Time slices the monitor ended.",
            d(s.slices_ended));
    out.add("rill_blocking_retakes_total", counter,
            "Processors the monitor took from goroutines in blocking calls.",
            d(s.blocking_retakes));
    out.add("rill_netpoll_wakeups_total", counter, "Goroutines readied by I/O readiness.",
            d(s.netpoll_wakeups));
    out.add("rill_stacks", gauge, "Live goroutine stacks, by protection.", {{"guard", "page"}},
            d(s.stacks_guarded));
    out.add("rill_stacks", gauge, "", {{"guard", "canary"}}, d(s.stacks_unguarded));
    out.add("process_resident_memory_bytes", gauge, "Resident memory size in bytes.",
            resident_bytes());
}

} // namespace rill::admin
