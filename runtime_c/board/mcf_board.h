/*
 * mcf_board.h - the portable board API that generated test mains call.
 *
 * Two implementations exist:
 *   board_qemu.c (+ startup_cortexm.c)  Cortex-M boards under QEMU; files and console through
 *                                       Arm semihosting, instruction counting through SysTick
 *                                       with QEMU's "-icount shift=0" (1 instruction = 1 ns).
 *   board_host.c                        the build machine; stdio, no instruction counting.
 *
 * Build-time defines (mcuforge.sim.build passes them from the board TOML):
 *   MCF_BOARD_CLOCK_HZ   SysTick clock (the board's core clock) in Hz. With -icount shift=0 one
 *                        SysTick tick is 1e9 / MCF_BOARD_CLOCK_HZ instructions (40 at 25 MHz,
 *                        50 at 20 MHz, 31.25 at 32 MHz), which is also the counter's resolution.
 *   MCF_BOARD_NAME       board name as a string literal, e.g. "mps2-an386".
 *
 * Output conventions (parsed by mcuforge.sim.qemu.run_firmware):
 *   mcf_board_report_instructions(NULL, n)     prints  "MCF_INSTRUCTIONS <n>\n"
 *   mcf_board_report_instructions("conv1", n)  prints  "MCF_INSTRUCTIONS <n> conv1\n"
 *   Unlabelled lines are the per-inference counts (RunResult.instructions, in order);
 *   labelled lines go to RunResult.instruction_marks as (label, n).
 *   mcf_board_report_stack()                   prints  "MCF_STACK_USED <bytes>\n" (RunResult.stack_used)
 *   a CPU fault prints "MCF_FAULT <exception> pc=... lr=... cfsr=... hfsr=..." and exits with 70.
 *
 * Files: paths are relative to the directory the runner starts QEMU (or the host program) in.
 * Every read/write call opens, positions, transfers and closes the file, so any number of inputs
 * can be read from one file by offset (mcf_board_read_file_at) and nothing stays open between
 * calls. These calls are slow (a trap to the host each); keep them outside measured regions.
 *
 * No function here allocates memory. The firmware has no heap: malloc() returns NULL.
 * The program's entry point is `int main(void)`; its return value becomes the exit status
 * (QEMU's process exit code through semihosting SYS_EXIT_EXTENDED, or the host process's).
 */
#ifndef MCF_BOARD_H
#define MCF_BOARD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exit code used when a CPU fault (HardFault, BusFault, UsageFault, ...) ends the program. */
#define MCF_BOARD_EXIT_FAULT 70
/* Exit code that callers use by convention when a board file read or write fails. */
#define MCF_BOARD_EXIT_IO 71

/* Word the startup code fills the free stack with. */
#define MCF_BOARD_STACK_PAINT 0x5AC3A55Au

/* Start the instruction counter (free-running SysTick on QEMU). Call once at the top of main. */
void mcf_board_init(void);

/* Read exactly nbytes from the start of the file. Returns 0 on success, -1 if the file cannot be
 * opened or is shorter than nbytes. */
int mcf_board_read_file(const char *path, void *buf, uint32_t nbytes);

/* Read exactly nbytes starting at byte `offset` of the file (SYS_SEEK on QEMU, fseek on host).
 * Returns 0 on success, -1 on any failure (including a short read). */
int mcf_board_read_file_at(const char *path, void *buf, uint32_t nbytes, uint32_t offset);

/* Write nbytes to the file, truncating it first (append == 0) or appending (append != 0).
 * Returns 0 on success, -1 on failure. */
int mcf_board_write_file(const char *path, const void *buf, uint32_t nbytes, int append);

/* Print a NUL-terminated string to the console (semihosting SYS_WRITE0 / stdout), no newline added. */
void mcf_board_print(const char *s);

/* Print an unsigned decimal number (no newline); no printf needed on the target. */
void mcf_board_print_u64(uint64_t value);

/* Snapshot the counter. */
void mcf_board_counter_start(void);

/* Executed instructions since the last mcf_board_counter_start() on QEMU (resolution: one SysTick
 * tick, see MCF_BOARD_CLOCK_HZ; includes the few instructions of the start/stop calls themselves;
 * SysTick wraps are counted through its interrupt). Always 0 on the host. */
uint64_t mcf_board_counter_stop(void);

/* Print one "MCF_INSTRUCTIONS <n>[ <label>]" line (see the convention above). label may be NULL.
 * Prints nothing on the host, where counts are not measured. */
void mcf_board_report_instructions(const char *label, uint64_t n);

/* Stack high-water mark in bytes: how much of the .stack section has been written since reset
 * (the startup code paints it with MCF_BOARD_STACK_PAINT). 0 on the host. */
uint32_t mcf_board_stack_used(void);

/* Print "MCF_STACK_USED <bytes>" (parsed into RunResult.stack_used). Prints nothing on the host. */
void mcf_board_report_stack(void);

/* End the program with `code` as the process exit status (SYS_EXIT_EXTENDED on QEMU). */
void mcf_board_exit(int code) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif /* MCF_BOARD_H */
