// Context switch and goroutine entry for AArch64 AAPCS64 (mirrors the gogo /
// mcall part of Go's runtime/asm_arm64.s).
//
// A saved context is the stack pointer of a 176-byte frame (a multiple of 16,
// so sp stays aligned) laid out, from low to high:
//   [sp+0]   x19, x20, x21, x22, x23, x24, x25, x26, x27, x28
//   [sp+80]  x29 (frame pointer), x30 (link register: where ret resumes)
//   [sp+96]  d8, d9, d10, d11, d12, d13, d14, d15
//   [sp+160] FPCR, padding
// make_context in context.hpp builds the same frame for a new goroutine, with
// the G in the x19 slot and rill_go_entry in the x30 slot.
// Only callee-saved state is kept: the switch is an ordinary call for the
// compiler, so caller-saved registers (and the upper halves of v8-v15) are
// already dead.

    .text

// void rill_switch(void** save_sp, void* load_sp)
    .globl rill_switch
    .type rill_switch, %function
    .p2align 4
rill_switch:
    .cfi_startproc
    sub sp, sp, #176
    .cfi_def_cfa_offset 176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    .cfi_offset x29, -96
    .cfi_offset x30, -88
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x9, fpcr
    str x9, [sp, #160]
    mov x10, sp
    str x10, [x0]
    // The loaded frame has the same shape, so the CFI above describes it too.
    mov sp, x1
    // Writing FPCR can stall the pipeline on some cores; it rarely differs
    // between goroutines, so write it only when it does.
    ldr x10, [sp, #160]
    cmp x9, x10
    b.eq 1f
    msr fpcr, x10
1:
    ldp d14, d15, [sp, #144]
    ldp d12, d13, [sp, #128]
    ldp d10, d11, [sp, #112]
    ldp d8, d9, [sp, #96]
    ldp x29, x30, [sp, #80]
    ldp x27, x28, [sp, #64]
    ldp x25, x26, [sp, #48]
    ldp x23, x24, [sp, #32]
    ldp x21, x22, [sp, #16]
    ldp x19, x20, [sp, #0]
    add sp, sp, #176
    .cfi_def_cfa_offset 0
    .cfi_restore x29
    .cfi_restore x30
    ret
    .cfi_endproc
    .size rill_switch, .-rill_switch

// First frame of every goroutine: reached by rill_switch's ret on a fresh
// stack with x19 = the G. The return address is undefined for the unwinder,
// so no unwind or backtrace walks past a goroutine's first frame.
    .globl rill_go_entry
    .type rill_go_entry, %function
    .p2align 4
rill_go_entry:
    .cfi_startproc
    .cfi_undefined x30
    mov x29, xzr
    mov x0, x19
    bl rill_goroutine_main
    brk #0x3e8
    .cfi_endproc
    .size rill_go_entry, .-rill_go_entry

    .section .note.GNU-stack,"",%progbits
