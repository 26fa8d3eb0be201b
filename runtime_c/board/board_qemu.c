/*
 * board_qemu.c - mcf_board.h for Cortex-M boards emulated by qemu-system-arm.
 *
 * Console and files go through Arm semihosting ("bkpt 0xAB", operation in r0, pointer to an
 * argument block in r1, result in r0); QEMU must run with -semihosting-config enable=on,target=native.
 * File names are resolved by QEMU relative to its own working directory.
 *
 * Instruction counting: QEMU is not cycle-accurate and DWT CYCCNT reads 0, but with
 * "-icount shift=0" every executed instruction advances virtual time by exactly 1 ns and SysTick
 * (CLKSOURCE = processor clock) runs on virtual time. So instructions = ticks * 1e9 / clock_hz,
 * deterministic from run to run, with a resolution of one tick (e.g. 40 instructions at 25 MHz).
 * SysTick runs free from mcf_board_init() on; start/stop take snapshots of a 64-bit tick count
 * built from the 24-bit down-counter plus the number of wraps counted by SysTick_Handler.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include "mcf_board.h"

#ifndef MCF_BOARD_CLOCK_HZ
#error "MCF_BOARD_CLOCK_HZ must be defined (mcuforge.sim.build passes it from the board TOML)"
#endif

/* Reload value: the full 24 bits, so a wrap (and its interrupt) happens only every 2^24 ticks
 * (0.67 s of virtual time = 671 M instructions at 25 MHz). Tests lower it to exercise wraps. */
#ifndef MCF_SYSTICK_RELOAD
#define MCF_SYSTICK_RELOAD 0x00FFFFFFu
#endif

/* ---- semihosting ---------------------------------------------------------------------- */

#define SYS_OPEN 0x01u
#define SYS_CLOSE 0x02u
#define SYS_WRITE0 0x04u
#define SYS_WRITE 0x05u
#define SYS_READ 0x06u
#define SYS_SEEK 0x0Au
#define SYS_FLEN 0x0Cu
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

/* fopen-style modes of SYS_OPEN */
#define SH_MODE_RB 1u
#define SH_MODE_WB 5u
#define SH_MODE_AB 9u

static uint32_t mcf_semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    /* "memory": the host reads and writes the argument block and the buffers it points to. */
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static uint32_t mcf_strlen(const char *s)
{
    uint32_t n = 0;
    while (s[n] != '\0') {
        ++n;
    }
    return n;
}

static int32_t mcf_sh_open(const char *path, uint32_t mode)
{
    uint32_t args[3];
    args[0] = (uint32_t)(uintptr_t)path;
    args[1] = mode;
    args[2] = mcf_strlen(path);
    return (int32_t)mcf_semihost(SYS_OPEN, args);
}

static void mcf_sh_close(int32_t handle)
{
    uint32_t args[1];
    args[0] = (uint32_t)handle;
    (void)mcf_semihost(SYS_CLOSE, args);
}

/* ---- board API ------------------------------------------------------------------------ */

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2)
#define ICSR_PENDSTSET (1u << 26)

static volatile uint32_t mcf_systick_wraps;
static uint64_t mcf_counter_start_ticks;

void SysTick_Handler(void)
{
    mcf_systick_wraps = mcf_systick_wraps + 1u;
}

void mcf_board_init(void)
{
    SYST_CSR = 0u;
    SYST_RVR = MCF_SYSTICK_RELOAD;
    SYST_CVR = 0u; /* any write clears the counter; it reloads from RVR on the first tick */
    mcf_systick_wraps = 0u;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
    /* As measured (NOTES.md): the counter reads 0 until the first tick has reloaded it. */
    while (SYST_CVR == 0u) {
    }
    mcf_counter_start_ticks = 0u;
}

/* Monotonic tick count. The wrap interrupt fires when the counter reaches 0, so a reading of 0
 * already belongs to the next period: position within the period = (RELOAD + 1 - cvr) mod
 * (RELOAD + 1). With interrupts masked, a wrap whose interrupt is still pending (PENDSTSET) is
 * added by hand and the counter re-read, so wraps and counter always come from the same period. */
static uint64_t mcf_ticks_now(void)
{
    uint32_t primask;
    uint32_t wraps;
    uint32_t cvr;
    uint32_t position;
    __asm__ volatile("mrs %0, primask" : "=r"(primask));
    __asm__ volatile("cpsid i" ::: "memory");
    wraps = mcf_systick_wraps;
    cvr = SYST_CVR;
    if ((SCB_ICSR & ICSR_PENDSTSET) != 0u) {
        wraps += 1u;
        cvr = SYST_CVR;
    }
    if ((primask & 1u) == 0u) {
        __asm__ volatile("cpsie i" ::: "memory");
    }
    position = (cvr == 0u) ? 0u : (MCF_SYSTICK_RELOAD + 1u - cvr);
    return (uint64_t)wraps * ((uint64_t)MCF_SYSTICK_RELOAD + 1u) + position;
}

void mcf_board_counter_start(void)
{
    mcf_counter_start_ticks = mcf_ticks_now();
}

uint64_t mcf_board_counter_stop(void)
{
    uint64_t ticks = mcf_ticks_now() - mcf_counter_start_ticks;
    /* 1 instruction = 1 ns of virtual time with -icount shift=0; round to the nearest. */
    return (ticks * 1000000000ull + (uint64_t)MCF_BOARD_CLOCK_HZ / 2u) / (uint64_t)MCF_BOARD_CLOCK_HZ;
}

void mcf_board_print(const char *s)
{
    (void)mcf_semihost(SYS_WRITE0, s);
}

void mcf_board_print_u64(uint64_t value)
{
    char text[21];
    int pos = 20;
    text[pos] = '\0';
    do {
        text[--pos] = (char)('0' + (int)(value % 10u));
        value /= 10u;
    } while (value != 0u);
    mcf_board_print(&text[pos]);
}

void mcf_board_report_instructions(const char *label, uint64_t n)
{
    mcf_board_print("MCF_INSTRUCTIONS ");
    mcf_board_print_u64(n);
    if (label != NULL && label[0] != '\0') {
        mcf_board_print(" ");
        mcf_board_print(label);
    }
    mcf_board_print("\n");
}

extern uint32_t __stack_limit[];
extern uint32_t __stack_top[];

uint32_t mcf_board_stack_used(void)
{
    const volatile uint32_t *p = __stack_limit;
    while (p < __stack_top && *p == MCF_BOARD_STACK_PAINT) {
        ++p;
    }
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

void mcf_board_report_stack(void)
{
    mcf_board_print("MCF_STACK_USED ");
    mcf_board_print_u64(mcf_board_stack_used());
    mcf_board_print("\n");
}

int mcf_board_read_file_at(const char *path, void *buf, uint32_t nbytes, uint32_t offset)
{
    uint32_t args[3];
    uint32_t not_read;
    int32_t handle = mcf_sh_open(path, SH_MODE_RB);
    if (handle < 0) {
        return -1;
    }
    if (offset != 0u) {
        args[0] = (uint32_t)handle;
        args[1] = offset;
        if (mcf_semihost(SYS_SEEK, args) != 0u) {
            mcf_sh_close(handle);
            return -1;
        }
    }
    args[0] = (uint32_t)handle;
    args[1] = (uint32_t)(uintptr_t)buf;
    args[2] = nbytes;
    not_read = mcf_semihost(SYS_READ, args); /* returns the number of bytes NOT read */
    mcf_sh_close(handle);
    return not_read == 0u ? 0 : -1;
}

int mcf_board_read_file(const char *path, void *buf, uint32_t nbytes)
{
    return mcf_board_read_file_at(path, buf, nbytes, 0u);
}

int mcf_board_write_file(const char *path, const void *buf, uint32_t nbytes, int append)
{
    uint32_t args[3];
    uint32_t not_written;
    int32_t handle = mcf_sh_open(path, append ? SH_MODE_AB : SH_MODE_WB);
    if (handle < 0) {
        return -1;
    }
    if (append) {
        /* QEMU 7.2 opens mode "ab" without O_APPEND (measured: the write lands at offset 0), so
         * position at the end explicitly: SYS_FLEN, then SYS_SEEK. */
        int32_t length;
        args[0] = (uint32_t)handle;
        length = (int32_t)mcf_semihost(SYS_FLEN, args);
        args[1] = (uint32_t)length;
        if (length < 0 || mcf_semihost(SYS_SEEK, args) != 0u) {
            mcf_sh_close(handle);
            return -1;
        }
    }
    args[0] = (uint32_t)handle;
    args[1] = (uint32_t)(uintptr_t)buf;
    args[2] = nbytes;
    not_written = mcf_semihost(SYS_WRITE, args); /* returns the number of bytes NOT written */
    mcf_sh_close(handle);
    return not_written == 0u ? 0 : -1;
}

void mcf_board_exit(int code)
{
    uint32_t args[2];
    args[0] = ADP_STOPPED_APPLICATION_EXIT;
    args[1] = (uint32_t)code;
    for (;;) {
        /* SYS_EXIT_EXTENDED makes QEMU exit with `code`; plain SYS_EXIT only gives 0 or 1. */
        (void)mcf_semihost(SYS_EXIT_EXTENDED, args);
    }
}

/* No heap on the device: newlib's malloc (if something pulls it in) gets ENOMEM and returns
 * NULL instead of growing into the stack. */
void *_sbrk(ptrdiff_t increment);
void *_sbrk(ptrdiff_t increment)
{
    (void)increment;
    errno = ENOMEM;
    return (void *)-1;
}
