// sysmon: the runtime's monitor thread (mirrors sysmon and retake in Go's
// runtime/proc.go). It runs without a P, wakes every 20 µs while anything
// happens and backs off to 10 ms when nothing does, and
// - asks a goroutine that has held its P for over 10 ms to yield (a flag
//   honoured at preemption points, and SIGURG for the safe-point handler in
//   preempt.cpp);
// - retakes the P of an M that has sat in a blocking call (rill::blocking)
//   for a whole sysmon tick, handing it to another M;
// - polls the network when no M has for 10 ms;
// - returns the memory of free stacks unused for a while to the kernel
//   (stack_scavenge in stack.cpp, as Go's scavenger does for the heap), and
//   stays awake while any are due, even with every P idle.
#pragma once

#include <cstdint>

namespace rill::detail {

struct P;

void sysmon_start();
// Asks the goroutine running on p to yield: sets its preempt flag and
// signals its M. What sysmon does to a goroutine past its time slice; tests
// call it to preempt at will.
void preemptone(P* p);
// A goroutine entered a blocking call: cut sysmon's sleep short if it has
// backed off, so that the P is retaken within about 20 µs.
void sysmon_blocking_started() noexcept;
// Work appeared while every P was idle: wake sysmon from its deep sleep.
void sysmon_work_started() noexcept;
// A timer due at `when` was armed while every P is busy: make sure sysmon
// looks by then, to preempt the goroutine keeping the timer's P.
void sysmon_timer_added(std::int64_t when) noexcept;

} // namespace rill::detail
