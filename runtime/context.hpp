// The machine-level context switch (asm_amd64.S, asm_arm64.S) and the layout
// of a new goroutine's first frame.
#pragma once

#include <cstdint>

extern "C" {
// Saves the callee-saved registers, FP control words and stack pointer of the
// caller into *save_sp and resumes the context saved at load_sp.
void rill_switch(void** save_sp, void* load_sp);
// First instruction of every goroutine; calls rill_goroutine_main(G*).
void rill_go_entry();
[[noreturn]] void rill_goroutine_main(void* g);
}

namespace rill::detail {

// Builds a context on a fresh stack (top 16-byte aligned) that, when switched
// to, enters rill_go_entry with arg in the entry register. Returns its sp.
inline void* make_context(char* top, void* arg) {
#if defined(__x86_64__)
    auto* sp = reinterpret_cast<std::uint64_t*>(top) - 8;
    sp[0] = 0x1F80 | (std::uint64_t{0x037F} << 32); // MXCSR, x87 CW defaults
    sp[1] = 0;                                      // r15
    sp[2] = 0;                                      // r14
    sp[3] = 0;                                      // r13
    sp[4] = reinterpret_cast<std::uint64_t>(arg);   // r12
    sp[5] = 0;                                      // rbx
    sp[6] = 0;                                      // rbp
    sp[7] = reinterpret_cast<std::uint64_t>(&rill_go_entry);
    return sp;
#elif defined(__aarch64__)
    // The 176-byte frame of asm_arm64.S: x19..x28, x29, x30, d8..d15, FPCR,
    // padding. Every slot but x19 and x30 starts at zero: FPCR 0 is Linux's
    // default (round to nearest, no traps), x29 0 ends the frame-pointer chain.
    auto* sp = reinterpret_cast<std::uint64_t*>(top) - 22;
    for (int i = 0; i < 22; ++i)
        sp[i] = 0;
    sp[0] = reinterpret_cast<std::uint64_t>(arg);             // x19
    sp[11] = reinterpret_cast<std::uint64_t>(&rill_go_entry); // x30
    return sp;
#else
#error "rill supports x86-64 and AArch64"
#endif
}

} // namespace rill::detail
