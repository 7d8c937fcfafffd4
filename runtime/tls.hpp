// Thread-local variables read through the thread pointer at every use.
//
// A goroutine may park on one thread and resume on another, but a compiler
// believes the thread never changes under a function: it may compute a
// thread_local's address once and reuse it after a park, reaching the old
// thread's copy. An asm volatile's result is never reused, so an accessor
// defined here always yields the current thread's copy, at the cost of a
// couple of instructions and no call. The variable must be an extern "C"
// thread_local (initial-exec TLS: valid in executables and shared objects).
#pragma once

#if defined(__x86_64__)
#define RILL_TLS_ACCESSOR(T, name, sym)                                                            \
    inline T* name() noexcept {                                                                    \
        char* p;                                                                                   \
        asm volatile("movq %%fs:0, %0\n\t"                                                         \
                     "addq " #sym "@gottpoff(%%rip), %0"                                           \
                     : "=r"(p));                                                                   \
        return reinterpret_cast<T*>(p);                                                            \
    }
#elif defined(__aarch64__)
#define RILL_TLS_ACCESSOR(T, name, sym)                                                            \
    inline T* name() noexcept {                                                                    \
        char *p, *off;                                                                             \
        asm volatile("mrs %0, tpidr_el0\n\t"                                                       \
                     "adrp %1, :gottprel:" #sym "\n\t"                                             \
                     "ldr %1, [%1, #:gottprel_lo12:" #sym "]\n\t"                                  \
                     "add %0, %0, %1"                                                              \
                     : "=r"(p), "=r"(off));                                                        \
        return reinterpret_cast<T*>(p);                                                            \
    }
#else
#error "rill: no thread-pointer access for this architecture"
#endif
