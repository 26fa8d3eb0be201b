/*
 * qemu_pccount.c - a QEMU TCG plugin (API version 1, QEMU 7.2) that counts executed instructions per
 * guest PC: an inline 64-bit add on every instruction translated inside [base, base + 8 MB), the
 * counts written at exit as "<hex pc> <count>" lines to out=<file>. Exact and repeatable (IT blocks
 * and condition-failed instructions count; QEMU's -icount needs a SysTick tick of resolution).
 * With start=<pc>,stop=<pc> only what runs between executions of those two instructions is written
 * (the sum over every start .. stop pair; the first line "# pairs <n>").
 * Optional taken=<file>: also count, per PC, how often the next executed instruction is not the
 * fall-through (pc + its size): taken branches, calls, returns, any write to the PC (an exec callback
 * on every instruction, so slower; off by default). Written as "<hex pc> <count>" lines, over the
 * same start .. stop window ([start, stop): the transition out of an instruction is counted when
 * the instruction itself is counted).
 * Debian's QEMU ships no qemu-plugin.h: the handful of API entry points used are declared here.
 *     qemu-system-arm ... -plugin ./qemu_pccount.so,out=/abs/pccount.txt,base=0[,taken=/abs/taken.txt]
 * With marks=<file> (hex PCs, one a line) and log=<file>: every execution of a mark PC appends
 * "<hex pc> <instructions executed so far in the window>" to the log (per-layer counts: the marks
 * are a model's kernel calls and their return addresses, mcuforge.sim.layer_counts).
 * Used by benchmarks/subbyte_fc.py, benchmarks/cycle_model.py and mcuforge.sim.layer_counts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb; struct qemu_plugin_insn;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
__attribute__((visibility("default"))) int qemu_plugin_version = 1;
typedef void (*tb_trans_cb)(qemu_plugin_id_t, struct qemu_plugin_tb *);
typedef void (*udata_cb)(qemu_plugin_id_t, void *);
typedef void (*vcpu_udata_cb)(unsigned int, void *);
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *, vcpu_udata_cb, enum qemu_plugin_cb_flags, void *);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, tb_trans_cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *, size_t);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *, enum qemu_plugin_op, void *, uint64_t);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t, udata_cb, void *);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *);
#define SPAN (1u << 23)             /* code window: base .. base + 8 MB, halfword steps */
static uint64_t *counts, *snap, *sum;
static uint64_t base, start_pc = ~0ull, stop_pc = ~0ull, pairs;
static char path[512] = "pccount.txt";
static uint64_t total, *marks, n_marks;
static FILE *mark_log;
static void on_mark(unsigned int vcpu, void *p)
{
    (void)vcpu;
    fprintf(mark_log, "%llx %llu\n", (unsigned long long)(uintptr_t)p, (unsigned long long)total);
}
static int is_mark(uint64_t a)
{
    for (uint64_t i = 0; i < n_marks; ++i)
        if (marks[i] == a) return 1;
    return 0;
}
static char taken_path[512];        /* empty: the taken mode is off */
static uint64_t *taken;             /* per PC: executions whose successor was not pc + size */
static uint64_t prev_pc, prev_next; /* the previous executed instruction and its fall-through */
static int have_prev, active;       /* active: inside start .. stop (always, without start=) */
static void on_flow(unsigned int vcpu, void *p)
{
    (void)vcpu;
    uint64_t a = (uint64_t)(uintptr_t)p >> 3, size = (uint64_t)(uintptr_t)p & 7;
    if (have_prev && active && a != prev_next)
        ++taken[(prev_pc - base) >> 1];
    if (a == start_pc) active = 1;
    if (a == stop_pc) active = 0;
    have_prev = a >= base && a - base < SPAN;
    prev_pc = a;
    prev_next = a + size;
}
static void on_start(unsigned int vcpu, void *p)
{
    (void)vcpu; (void)p;
    memcpy(snap, counts, SPAN / 2 * sizeof *counts);
}
static void on_stop(unsigned int vcpu, void *p)
{
    (void)vcpu; (void)p;
    for (uint64_t i = 0; i < SPAN / 2; ++i)
        sum[i] += counts[i] - snap[i];
    ++pairs;
}
static void trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t a = qemu_plugin_insn_vaddr(insn);
        if (a == start_pc)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_start, QEMU_PLUGIN_CB_NO_REGS, 0);
        if (a == stop_pc)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_stop, QEMU_PLUGIN_CB_NO_REGS, 0);
        if (mark_log && is_mark(a))
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)a);
        if (taken)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_flow, QEMU_PLUGIN_CB_NO_REGS,
                                                   (void *)(uintptr_t)(a << 3 | qemu_plugin_insn_size(insn)));
        if (a >= base && a - base < SPAN) {
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counts[(a - base) >> 1], 1);
            if (mark_log)
                qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &total, 1);
        }
    }
}
static void done(qemu_plugin_id_t id, void *p)
{
    (void)id; (void)p;
    if (mark_log) fclose(mark_log);
    FILE *f = fopen(path, "w");
    if (!f) return;
    const uint64_t *c = sum ? sum : counts;
    if (sum) fprintf(f, "# pairs %llu\n", (unsigned long long)pairs);
    for (uint64_t i = 0; i < SPAN / 2; ++i)
        if (c[i]) fprintf(f, "%llx %llu\n", (unsigned long long)(base + 2 * i), (unsigned long long)c[i]);
    fclose(f);
    if (taken && (f = fopen(taken_path, "w"))) {
        for (uint64_t i = 0; i < SPAN / 2; ++i)
            if (taken[i]) fprintf(f, "%llx %llu\n", (unsigned long long)(base + 2 * i), (unsigned long long)taken[i]);
        fclose(f);
    }
}
__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; ++i) {
        if (!strncmp(argv[i], "out=", 4)) snprintf(path, sizeof path, "%s", argv[i] + 4);
        if (!strncmp(argv[i], "base=", 5)) base = strtoull(argv[i] + 5, 0, 0);
        if (!strncmp(argv[i], "start=", 6)) start_pc = strtoull(argv[i] + 6, 0, 0);
        if (!strncmp(argv[i], "stop=", 5)) stop_pc = strtoull(argv[i] + 5, 0, 0);
        if (!strncmp(argv[i], "log=", 4)) mark_log = fopen(argv[i] + 4, "w");
        if (!strncmp(argv[i], "marks=", 6)) {
            FILE *f = fopen(argv[i] + 6, "r");
            unsigned long long a;
            if (!f) return -1;
            while (fscanf(f, "%llx", &a) == 1) {
                marks = realloc(marks, (n_marks + 1) * sizeof *marks);
                marks[n_marks++] = a;
            }
            fclose(f);
        }
        if (!strncmp(argv[i], "taken=", 6)) snprintf(taken_path, sizeof taken_path, "%s", argv[i] + 6);
    }
    if ((mark_log != 0) != (marks != 0)) return -1;
    active = start_pc == ~0ull;
    if (taken_path[0])
        taken = calloc(SPAN / 2, sizeof *taken);
    counts = calloc(SPAN / 2, sizeof *counts);
    if (start_pc != ~0ull) {
        snap = calloc(SPAN / 2, sizeof *snap);
        sum = calloc(SPAN / 2, sizeof *sum);
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, trans);
    qemu_plugin_register_atexit_cb(id, done, 0);
    return 0;
}
