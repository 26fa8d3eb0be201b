/*
 * startup_cortexm.c - vector table, reset and fault handling for every Cortex-M board that
 * mcuforge runs under QEMU (ARMv6-M, ARMv7-M, ARMv7E-M, ARMv8-M, ARMv8.1-M).
 *
 * Boot sequence (Reset_Handler):
 *   1. Enable the FPU/MVE coprocessors CP10 and CP11 (CPACR) when the code is built for a core
 *      that has them. This happens in assembly, before any C runs: at -O3 GCC vectorizes the
 *      .data copy and .bss zero loops below (and any memcpy/memset it turns them into) with
 *      FPU or MVE instructions, which would fault with CP10/CP11 still disabled.
 *   2. On ARMv8-M Mainline (M33, M55) set MSPLIM to the bottom of the .stack section, so a
 *      stack overflow at run time raises a UsageFault (STKOF) instead of silently corrupting
 *      .bss. Link-time overflow is already caught by the linker script.
 *   3. Copy .data from flash to RAM, zero .bss, paint the free stack (for the high-water mark),
 *      call main(), and leave through semihosting SYS_EXIT_EXTENDED with main's return value
 *      as QEMU's exit status.
 *
 * Fault handlers print "MCF_FAULT <name> pc=... lr=... [cfsr=... hfsr=... mmfar=... bfar=...]"
 * and exit with MCF_BOARD_EXIT_FAULT. ARMv6-M (M0) has no CFSR/HFSR, so only pc/lr are shown.
 *
 * The symbols below come from templates/c/board/link.ld.j2.
 */
#include <stdint.h>
#include "mcf_board.h"

#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
#define MCF_HAS_STACK_LIMIT 1
#else
#define MCF_HAS_STACK_LIMIT 0
#endif

#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
#define MCF_ENABLE_CP10_CP11 1
#else
#define MCF_ENABLE_CP10_CP11 0
#endif

#if defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__)
#define MCF_HAS_CFSR 0
#else
#define MCF_HAS_CFSR 1
#endif

extern uint32_t __data_load[];
extern uint32_t __data_start[];
extern uint32_t __data_end[];
extern uint32_t __bss_start[];
extern uint32_t __bss_end[];
extern uint32_t __stack_limit[];
extern uint32_t __stack_top[];

int main(void);
void Reset_Handler(void);
void mcf_reset_c(void) __attribute__((noreturn, used));
void mcf_fault_entry(void);
void mcf_fault_report(uint32_t pc, uint32_t lr, uint32_t ipsr) __attribute__((noreturn, used));

/* SysTick_Handler is defined by board_qemu.c (instruction counter); the weak default keeps a
 * build without it linkable and reports an unexpected SysTick like a fault. */
void SysTick_Handler(void) __attribute__((weak, alias("mcf_fault_entry")));

typedef void (*mcf_vector_t)(void);

/* 16 system exceptions plus 32 external interrupts; none of the external ones are enabled,
 * an unexpected one is reported like a fault. */
__attribute__((section(".vectors"), used))
const mcf_vector_t mcf_vector_table[16 + 32] = {
    (mcf_vector_t)(uintptr_t)__stack_top, /* 0  initial MSP */
    Reset_Handler,                        /* 1  reset */
    mcf_fault_entry,                      /* 2  NMI */
    mcf_fault_entry,                      /* 3  HardFault */
    mcf_fault_entry,                      /* 4  MemManage */
    mcf_fault_entry,                      /* 5  BusFault */
    mcf_fault_entry,                      /* 6  UsageFault */
    mcf_fault_entry,                      /* 7  SecureFault (ARMv8-M) */
    0, 0, 0,                              /* 8-10 reserved */
    mcf_fault_entry,                      /* 11 SVCall */
    mcf_fault_entry,                      /* 12 DebugMonitor */
    0,                                    /* 13 reserved */
    mcf_fault_entry,                      /* 14 PendSV */
    SysTick_Handler,                      /* 15 SysTick */
    [16 ... 47] = mcf_fault_entry,
};

/* Runs with whatever SP the core loaded from vector 0; touches no memory before CPACR is set. */
__attribute__((naked, noreturn)) void Reset_Handler(void)
{
    __asm__ volatile(
#if MCF_ENABLE_CP10_CP11
        "ldr r0, =0xE000ED88\n"   /* CPACR */
        "ldr r1, [r0]\n"
        "ldr r2, =0x00F00000\n"   /* CP10 and CP11 full access */
        "orrs r1, r1, r2\n"
        "str r1, [r0]\n"
        "dsb\n"
        "isb\n"
#endif
#if MCF_HAS_STACK_LIMIT
        "ldr r0, =__stack_limit\n"
        "msr msplim, r0\n"
#endif
        "ldr r0, =mcf_reset_c\n"
        "bx r0\n"
        ".ltorg\n");
}

/* Fill the unused part of the stack with MCF_BOARD_STACK_PAINT so mcf_board_stack_used() can
 * report the high-water mark: a measured check of the -fcallgraph-info stack bound. The writes
 * go through a volatile pointer so GCC cannot turn the loop into a memset call whose own frame
 * would sit in the area being painted; 128 bytes below the current SP are left alone. */
static void mcf_paint_stack(void)
{
    volatile uint32_t *p = __stack_limit;
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    while (p < sp - 32) {
        *p++ = MCF_BOARD_STACK_PAINT;
    }
}

void mcf_reset_c(void)
{
    uint32_t *src = __data_load;
    uint32_t *dst = __data_start;
    while (dst < __data_end) {
        *dst++ = *src++;
    }
    for (dst = __bss_start; dst < __bss_end;) {
        *dst++ = 0u;
    }
    mcf_paint_stack();
    mcf_board_exit(main());
}

/* Finds the exception frame (MSP or PSP per EXC_RETURN bit 2), takes the stacked PC and LR,
 * then moves SP back to the top of the stack (and lifts MSPLIM) so the report itself cannot
 * fault again when the fault was a stack overflow. Thumb-1 only, so it also runs on ARMv6-M. */
__attribute__((naked)) void mcf_fault_entry(void)
{
    __asm__ volatile(
        "movs r0, #4\n"
        "mov r1, lr\n"
        "tst r0, r1\n"
        "beq 1f\n"
        "mrs r0, psp\n"
        "b 2f\n"
        "1:\n"
        "mrs r0, msp\n"
        "2:\n"
        "ldr r1, [r0, #20]\n"     /* stacked LR */
        "ldr r0, [r0, #24]\n"     /* stacked PC */
        "mrs r2, ipsr\n"
#if MCF_HAS_STACK_LIMIT
        "movs r3, #0\n"
        "msr msplim, r3\n"
#endif
        "ldr r3, =__stack_top\n"
        "mov sp, r3\n"
        "ldr r3, =mcf_fault_report\n"
        "bx r3\n"
        ".ltorg\n");
}

static void mcf_print_hex(const char *name, uint32_t value)
{
    char text[12];
    int i;
    text[0] = '=';
    text[1] = '0';
    text[2] = 'x';
    for (i = 0; i < 8; ++i) {
        uint32_t nibble = (value >> (28 - 4 * i)) & 0xFu;
        text[3 + i] = (char)(nibble < 10u ? '0' + nibble : 'a' + nibble - 10u);
    }
    text[11] = '\0';
    mcf_board_print(" ");
    mcf_board_print(name);
    mcf_board_print(text);
}

void mcf_fault_report(uint32_t pc, uint32_t lr, uint32_t ipsr)
{
    static const char *const names[16] = {
        "thread", "reset", "nmi", "hardfault", "memmanage", "busfault", "usagefault",
        "securefault", "reserved", "reserved", "reserved", "svcall", "debugmon", "reserved",
        "pendsv", "systick",
    };
    uint32_t exc = ipsr & 0x1FFu;
    mcf_board_print("MCF_FAULT ");
    mcf_board_print(exc < 16u ? names[exc] : "irq");
    mcf_print_hex("exception", exc);
    mcf_print_hex("pc", pc);
    mcf_print_hex("lr", lr);
#if MCF_HAS_CFSR
    /* CFSR: MemManage/Bus/Usage fault status (STKOF is bit 20 on ARMv8-M); HFSR: FORCED etc. */
    mcf_print_hex("cfsr", *(volatile uint32_t *)0xE000ED28u);
    mcf_print_hex("hfsr", *(volatile uint32_t *)0xE000ED2Cu);
    mcf_print_hex("mmfar", *(volatile uint32_t *)0xE000ED34u);
    mcf_print_hex("bfar", *(volatile uint32_t *)0xE000ED38u);
#endif
    mcf_board_print("\n");
    mcf_board_exit(MCF_BOARD_EXIT_FAULT);
}
