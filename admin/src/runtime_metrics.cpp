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
    using enum metric_type;
    struct row {
        const char* name;
        metric_type type;
        const char* help;
        std::uint64_t runtime_stats::*field;
    };
    // The unlabelled ones, as rill::stats() has them.
    static constexpr row rows[] = {
        {"rill_goroutines", gauge, "Goroutines alive.", &runtime_stats::goroutines_live},
        {"rill_goroutines_created_total", counter, "Goroutines created.",
         &runtime_stats::goroutines_created},
        {"rill_threads", gauge, "OS threads (Ms) the runtime has started.",
         &runtime_stats::threads},
        {"rill_processors", gauge, "Processors (Ps) running goroutines (maxprocs).",
         &runtime_stats::processors},
        {"rill_parks_total", counter, "Times a goroutine parked.", &runtime_stats::parks},
        {"rill_steals_total", counter, "Goroutines stolen from another processor's run queue.",
         &runtime_stats::steals},
        {"rill_slices_ended_total", counter, "Time slices the monitor ended.",
         &runtime_stats::slices_ended},
        {"rill_blocking_retakes_total", counter,
         "Processors the monitor took from goroutines in blocking calls.",
         &runtime_stats::blocking_retakes},
        {"rill_netpoll_wakeups_total", counter, "Goroutines readied by I/O readiness.",
         &runtime_stats::netpoll_wakeups},
    };
    runtime_stats s = stats();
    auto d = [](std::uint64_t v) { return static_cast<double>(v); };
    for (const row& r : rows)
        out.add(r.name, r.type, r.help, d(s.*r.field));
    out.add("rill_preemptions_total", counter, "Goroutines preempted, by how.", {{"how", "signal"}},
            d(s.preempts_async));
    out.add("rill_preemptions_total", counter, "", {{"how", "cooperative"}}, d(s.preempts_coop));
    out.add("rill_stacks", gauge, "Live goroutine stacks, by protection.", {{"guard", "page"}},
            d(s.stacks_guarded));
    out.add("rill_stacks", gauge, "", {{"guard", "canary"}}, d(s.stacks_unguarded));
    out.add("process_resident_memory_bytes", gauge, "Resident memory size in bytes.",
            resident_bytes());
}

} // namespace rill::admin
