/*
 * m0_harness.h - the bare-metal Cortex-M0+ harness shared by lib/p256 and
 * lib/ed25519 (each m0/m0_main.c includes it and defines run()), run on
 * rp2040js by tools/node/run_p256_m0.mjs. The image is loaded into SRAM;
 * the host drives it through a mailbox at a fixed address (link.ld):
 *
 *   bkpt 0x11   host: write one call into the mailbox (op 0 = finish),
 *               repaint the stack, note the cycle counter
 *   ... the call runs: run(), the library's dispatch ...
 *   bkpt 0x12   host: read rc and outputs, cycles and stack high-water
 *
 * and the program ends with the semihosting SYS_EXIT call (bkpt 0xAB).
 * Nothing else: no clocks, no peripherals, no libc calls.
 */
#ifndef M0_HARNESS_H
#define M0_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#define OP_EXIT 0
#define MBOX_BUF 128

/* Layout shared with tools/node/run_p256_m0.mjs (all little-endian words, then bytes). */
struct mailbox {
    uint32_t op;
    int32_t rc;
    uint32_t in_len[3];
    uint32_t out_len[2];
    uint8_t in[3][MBOX_BUF];
    uint8_t out[2][MBOX_BUF];
};

__attribute__((section(".mailbox"))) volatile struct mailbox mbox;

/* the library's dispatch: one call from the mailbox into the core */
static void run(struct mailbox *m);

/* One call, breakpoint to breakpoint, in a function of its own: the code
 * between the two breakpoints is then the same for every call. (With the
 * loop in main, GCC -O2 rotates it and the first call runs a few extra
 * harness instructions, which would look like a timing difference.) */
__attribute__((noinline)) static int serve_one(void)
{
    __asm__ volatile("bkpt 0x11" ::: "memory");
    if (mbox.op == OP_EXIT) {
        return 0;
    }
    /* the mailbox is only ever touched by us between the breakpoints */
    run((struct mailbox *)&mbox);
    __asm__ volatile("bkpt 0x12" ::: "memory");
    return 1;
}

int main(void)
{
    while (serve_one()) {
    }
    return 0;
}

/* ---- startup: vector table, .bss, semihosting exit ---------------------- */

extern uint32_t __bss_start, __bss_end, __stack_top;

static void semihost_exit(void)
{
    /* SYS_EXIT (0x18) with ADP_Stopped_ApplicationExit */
    register uint32_t r0 __asm__("r0") = 0x18;
    register uint32_t r1 __asm__("r1") = 0x20026;
    __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
}

void reset_handler(void)
{
    for (uint32_t *p = &__bss_start; p < &__bss_end; p++) {
        *p = 0;
    }
    main();
    for (;;) {
        semihost_exit();
    }
}

__attribute__((section(".vectors"), used)) static const void *const vectors[2] = {
    &__stack_top,
    (const void *)reset_handler,
};

#endif
