/*
 * qemu_pccount.c - a QEMU TCG plugin (API version 1, QEMU 7.2) that counts executed instructions per
 * guest PC: an inline 64-bit add on every instruction translated inside [base, base + 8 MB), the
 * counts written at exit as "<hex pc> <count>" lines to out=<file>. Exact and repeatable (IT blocks
 * and condition-failed instructions count; QEMU's -icount needs a SysTick tick of resolution).
 * Debian's QEMU ships no qemu-plugin.h: the handful of API entry points used are declared here.
 *     qemu-system-arm ... -plugin ./qemu_pccount.so,out=/abs/pccount.txt,base=0
 * Used by benchmarks/subbyte_fc.py.
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
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, tb_trans_cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *, size_t);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *, enum qemu_plugin_op, void *, uint64_t);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t, udata_cb, void *);
#define SPAN (1u << 23)             /* code window: base .. base + 8 MB, halfword steps */
static uint64_t *counts;
static uint64_t base;
static char path[512] = "pccount.txt";
static void trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t a = qemu_plugin_insn_vaddr(insn);
        if (a >= base && a - base < SPAN)
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counts[(a - base) >> 1], 1);
    }
}
static void done(qemu_plugin_id_t id, void *p)
{
    (void)id; (void)p;
    FILE *f = fopen(path, "w");
    if (!f) return;
    for (uint64_t i = 0; i < SPAN / 2; ++i)
        if (counts[i]) fprintf(f, "%llx %llu\n", (unsigned long long)(base + 2 * i), (unsigned long long)counts[i]);
    fclose(f);
}
__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; ++i) {
        if (!strncmp(argv[i], "out=", 4)) snprintf(path, sizeof path, "%s", argv[i] + 4);
        if (!strncmp(argv[i], "base=", 5)) base = strtoull(argv[i] + 5, 0, 0);
    }
    counts = calloc(SPAN / 2, sizeof *counts);
    qemu_plugin_register_vcpu_tb_trans_cb(id, trans);
    qemu_plugin_register_atexit_cb(id, done, 0);
    return 0;
}
