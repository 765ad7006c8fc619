/* switch_x86_64.S - the coroutine switch: no system call, 7 registers.
 *
 * void sim__ctx_switch(void **save_sp, void *load_sp)
 * Pushes the callee-saved registers (System V AMD64) on the current stack, stores the stack pointer in *save_sp, loads load_sp and pops the same
 * frame from there. A new coroutine's stack is primed (actor.c) with that frame and the
 * address of its entry function as the return address. The SSE and x87 control words
 * (rounding modes, exception masks) are not switched: actors must not change them. */
    .text
    .globl sim__ctx_switch
    .type sim__ctx_switch, @function
    .p2align 4
sim__ctx_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size sim__ctx_switch, .-sim__ctx_switch
    .section .note.GNU-stack, "", @progbits
