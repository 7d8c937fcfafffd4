// Context switch and goroutine entry for x86-64 System V (mirrors the gogo /
// mcall part of Go's runtime/asm_amd64.s).
//
// A saved context is the stack pointer of a frame laid out, from low to high:
//   [sp+0]  MXCSR (4 bytes), x87 control word (2 bytes), padding
//   [sp+8]  r15, r14, r13, r12, rbx, rbp
//   [sp+56] return address
// Only callee-saved state is kept: the switch is an ordinary call for the
// compiler, so caller-saved registers are already dead.

    .text

// void rill_switch(void** save_sp, void* load_sp)
    .globl rill_switch
    .type rill_switch, @function
    .p2align 4
rill_switch:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    pushq %r12
    .cfi_adjust_cfa_offset 8
    pushq %r13
    .cfi_adjust_cfa_offset 8
    pushq %r14
    .cfi_adjust_cfa_offset 8
    pushq %r15
    .cfi_adjust_cfa_offset 8
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movl (%rsp), %eax
    movzwl 4(%rsp), %ecx
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    // ldmxcsr and fldcw are slow and almost every goroutine keeps the
    // defaults: load them only when they differ from the current ones.
    cmpl (%rsp), %eax
    je 1f
    ldmxcsr (%rsp)
1:
    cmpw 4(%rsp), %cx
    je 2f
    fldcw 4(%rsp)
2:
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %r15
    .cfi_adjust_cfa_offset -8
    popq %r14
    .cfi_adjust_cfa_offset -8
    popq %r13
    .cfi_adjust_cfa_offset -8
    popq %r12
    .cfi_adjust_cfa_offset -8
    popq %rbx
    .cfi_adjust_cfa_offset -8
    popq %rbp
    .cfi_adjust_cfa_offset -8
    ret
    .cfi_endproc
    .size rill_switch, .-rill_switch

// First frame of every goroutine: reached by rill_switch's ret on a fresh
// stack with r12 = the G. The return address is undefined for the unwinder,
// so no unwind or backtrace walks past a goroutine's first frame.
    .globl rill_go_entry
    .type rill_go_entry, @function
    .p2align 4
rill_go_entry:
    .cfi_startproc
    .cfi_undefined rip
    xorl %ebp, %ebp
    movq %r12, %rdi
    call rill_goroutine_main
    ud2
    .cfi_endproc
    .size rill_go_entry, .-rill_go_entry

    .section .note.GNU-stack,"",@progbits
