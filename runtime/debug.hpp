// Seeing inside (mirrors Go's runtime/traceback.go goroutine dump): every
// goroutine with id, name, state, wait reason and time waited; on SIGQUIT to
// stderr, or on demand through rill::dump_goroutines.
#pragma once

namespace rill::detail {

// Starts the thread that prints the dump when SIGQUIT arrives.
void debug_init();
// How many SIGQUIT dumps have been written (tests wait for one).
unsigned long quit_dumps_written() noexcept;

} // namespace rill::detail
