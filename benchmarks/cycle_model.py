"""A cycle model on top of exact per-PC instruction counts: modelled cycles (Cortex-M4 TRM, zero wait
states) of int8 vs int4 vs ternary builds, next to their executed instructions. A model, not a
measurement: QEMU is not cycle-accurate; what is exact is the input (executed count and taken count
per instruction, from benchmarks/qemu_pccount.c with taken=), the costs are the TRM's rules
(benchmarks/cycle_costs_m4.toml).

Per instruction (arm-none-eabi-objdump -d of the firmware): its class (ALU, multiply, DSP, single
load / store, LDRD, LDM / STM / PUSH / POP with N registers, branch, ...), cost from the table, and
the pairing rules of the TRM's "Load/store timings" applied to its executed predecessor (the
instruction before it in memory, which falls through to it count - taken times): a load after a
load (one cycle less unless the first's destination forms the second's address), a store after a
load, and the AGU stall (+1 for a load / store whose address register the preceding data-processing
instruction wrote). Taken branches cost 1 + P; P (pipeline refill, 1-3) is a parameter: the tables
show P = 2 and the ratios at P = 1 and P = 3.

Cortex-M33: no published instruction timing table was found for it (its TRM gives none); the M4
table is used as an approximation (both are 3-stage in-order pipelines) and labelled so. Cortex-M7: no
published table either; a throughput lower bound per basic block, labelled so: cycles >=
max(instructions / 2 (dual issue), multiply + DSP instructions (one such pipe), load / store beats
(64-bit data path: LDM / STM / PUSH / POP of N words ceil(N / 2), LDRD / STRD 1, single 1)); taken
branches free (predicted), no latencies. Flash wait states (which would favour the kernel reading
fewer bytes) are not modelled anywhere.

    PYTHONPATH=compiler python benchmarks/cycle_model.py [--no-models] [--layers 128->8,...] [--p 2] [--profile]

Prints Markdown tables (docs/subbyte.md, "Modelled cycles"); asserts nothing but bit-exactness of
every build against the golden model.
"""
from __future__ import annotations

import argparse
import bisect
import collections
import math
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
COSTS = HERE / "cycle_costs_m4.toml"
CONDS = ("eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al")
NO_DEST = {"cmp", "cmn", "tst", "teq", "nop", "it", "bkpt", "svc", "dsb", "dmb", "isb", "cpsid", "cpsie", "msr"}
MUL = re.compile(r"^(mul|mla|mls|umull|smull|umlal|smlal|umaal)s?$")
DSP = re.compile(r"^(smla|smlsl?d|smul|smua|smus|smml|smmul|smmla|smmls|smlal[bt]|smlald|smlsld|sadd|ssub|sasx|ssax|"
                 r"uadd|usub|uasx|usax|qadd|qsub|qasx|qsax|qdadd|qdsub|shadd|shsub|uhadd|uhsub|uqadd|uqsub|sel|"
                 r"usad|pkh|ssat16|usat16|sxtb16|uxtb16|sxtab16|uxtab16)")
LOADS = {"ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrex", "ldrexb", "ldrexh", "ldrt", "ldrbt", "ldrht", "ldrsbt", "ldrsht"}
STORES = {"str", "strb", "strh", "strex", "strexb", "strexh", "strt", "strbt", "strht"}
LDM = {"ldm", "ldmia", "ldmfd", "ldmdb", "ldmea", "pop"}
STM = {"stm", "stmia", "stmea", "stmdb", "stmfd", "push"}
REG = re.compile(r"\b(r1[0-5]|r[0-9]|sp|lr|pc|ip|fp|sl|sb)\b")
ALIAS = {"ip": "r12", "fp": "r11", "sl": "r10", "sb": "r9"}


def regs(text: str) -> list[str]:
    out = []
    for a, b in re.findall(r"\b(r\d+)\s*-\s*(r\d+)\b", text):             # ranges {r4-r7}
        out += [f"r{i}" for i in range(int(a[1:]), int(b[1:]) + 1)]
    text = re.sub(r"\b(r\d+)\s*-\s*(r\d+)\b", "", text)
    return out + [ALIAS.get(r, r) for r in REG.findall(text)]


@dataclass
class Insn:
    addr: int
    size: int
    base: str                   # mnemonic without condition, width suffix, flag-setting S kept
    ops: str
    func: str
    conditional: bool = False   # inside an IT block (or B<cc>, CBZ / CBNZ)
    kind: str = "alu"
    nregs: int = 0              # LDM / STM / PUSH / POP register count
    writes_pc: bool = False
    dest: list = field(default_factory=list)
    addr_regs: list = field(default_factory=list)
    reg_offset: bool = False    # single store with a register offset

    @property
    def flow(self) -> bool:     # can change the flow of control
        return self.writes_pc or self.kind in ("branch", "cbz", "table_branch")


def classify(i: Insn) -> None:
    b, ops = i.base, i.ops
    if b in ("b", "bl", "blx", "bx") or (b[0] == "b" and b[1:] in CONDS):
        i.kind, i.writes_pc = "branch", True
        i.conditional |= b[1:] in CONDS
    elif b in ("cbz", "cbnz"):
        i.kind, i.conditional, i.writes_pc = "cbz", True, True
    elif b in ("tbb", "tbh"):
        i.kind, i.writes_pc = "table_branch", True
    elif b.startswith("it"):
        i.kind = "it"
    elif b in LDM or b in STM:
        lst = regs(ops[ops.index("{"):]) if "{" in ops else []
        i.kind, i.nregs = ("ldm" if b in LDM else "stm"), len(lst)
        i.writes_pc = b in LDM and "pc" in lst
        i.dest = lst if b in LDM else []
        i.addr_regs = ["sp"] if b in ("push", "pop") else regs(ops.split(",")[0])
    elif b in ("ldrd", "strd"):
        i.kind = b
        i.dest = regs(ops.split("[")[0]) if b == "ldrd" else []
        i.addr_regs = regs(ops[ops.index("["):]) if "[" in ops else ["pc"]
    elif b in LOADS or b in STORES:
        i.dest = regs(ops.split(",")[0]) if b in LOADS else []
        mem = ops[ops.index("["):] if "[" in ops else "[pc]"
        i.addr_regs = regs(mem.split("@")[0])
        i.reg_offset = len(regs(mem.split("]")[0])) > 1
        i.writes_pc = "pc" in i.dest
        i.kind = ("load_pc" if i.writes_pc else "load") if b in LOADS else ("store_reg" if i.reg_offset else "store_imm")
    elif b in ("sdiv", "udiv"):
        i.kind = "div"
    elif MUL.match(b):
        i.kind = "mul"
    elif DSP.match(b):
        i.kind = "dsp"
    elif b.startswith("v") or b in ("nop", "cpsid", "cpsie", "mrs", "msr", "dsb", "dmb", "isb", "bkpt", "svc", "wfi", "wfe"):
        i.kind = "other"
    if i.kind in ("alu", "mul", "dsp", "div"):
        rs = regs(ops.split("@")[0])
        n = 2 if i.kind == "mul" and b.endswith(("ull", "lal", "aal")) else 1
        i.dest = [] if b in NO_DEST or b.startswith("it") else rs[:n]
        if "pc" in i.dest:
            i.writes_pc, i.kind = True, "alu_pc"


_LINE = re.compile(r"^\s*([0-9a-f]+):\s+((?:[0-9a-f]{4}\s?)+)\s+(\S+)\s*(.*)$")
_FUNC = re.compile(r"^([0-9a-f]+) <(.+)>:$")


def disassemble(elf: Path) -> dict[int, Insn]:
    """Every Thumb instruction of the ELF's code, by address (arm-none-eabi-objdump -d)."""
    text = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True,
                          check=True).stdout
    out: dict[int, Insn] = {}
    func, it_left = "?", 0
    for line in text.splitlines():
        m = _FUNC.match(line)
        if m:
            func, it_left = m.group(2), 0
            continue
        m = _LINE.match(line)
        if not m:
            continue
        addr, raw, mnem, ops = int(m.group(1), 16), m.group(2).split(), m.group(3), m.group(4)
        if mnem.startswith(".") or mnem in ("udf",):
            continue
        size = sum(len(h) // 2 for h in raw)
        base = mnem.split(".")[0]
        cond = False
        if it_left:
            it_left -= 1
            if base[-2:] in CONDS:
                base, cond = base[:-2], True
        if re.fullmatch(r"it[te]{0,3}", base):
            it_left = len(base) - 1
        ins = Insn(addr, size, base, ops.split("@")[0].strip(), func, cond)
        classify(ins)
        out[addr] = ins
    return out


def read_counts(path: Path) -> dict[int, int]:
    out = {}
    for line in Path(path).read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        a, n = line.split()
        out[int(a, 16)] = int(n)
    return out


def _base_cost(i: Insn, table: dict, P: float) -> float:
    cls = table["class"]
    k = i.kind
    if k in ("alu", "mul", "dsp", "it", "other", "load", "store_imm", "store_reg"):
        return cls[k]["cycles"]
    if k == "div":
        return table["model"]["divide"]
    if k in ("ldrd", "strd"):
        return cls["ldrd"]["cycles"]
    if k in ("ldm", "stm"):
        return 1 + i.nregs + (P if i.writes_pc else 0)
    if k == "load_pc":
        return 2 + P
    if k == "table_branch":
        return 2 + P
    if k in ("branch", "cbz", "alu_pc"):
        return 1 + P
    raise KeyError(k)


def m4_cycles(insns: dict[int, Insn], counts: dict[int, int], taken: dict[int, int], P: float,
              table: dict | None = None, pairing: bool = True) -> dict[int, float]:
    """Modelled Cortex-M4 cycles per PC (zero wait states): the TRM's cost for every execution, the
    pairing rules against the executed predecessor (pairing=False: the table's costs alone, single
    stores at its 2), taken / not-taken branches from `taken`."""
    table = table or tomllib.loads(COSTS.read_text())
    pl = table["class"]["load"]["pipelined"]
    out: dict[int, float] = {}
    for a, n in counts.items():
        i = insns.get(a)
        if i is None:
            raise KeyError(f"no instruction at 0x{a:x} in the disassembly")
        t = taken.get(a, 0)
        if i.flow:
            full = _base_cost(i, table, P)
            # taken ones pay the refill; a not-taken conditional branch (or a flow change under IT whose
            # condition failed) costs 1
            if i.kind in ("branch", "cbz") and not (i.conditional or i.kind == "cbz") or i.kind == "table_branch":
                c = n * full
            elif i.kind in ("branch", "cbz"):
                c = t * full + (n - t) * 1
            else:       # LDM / POP with PC, LDR PC, MOV / ADD PC: taken = condition passed
                c = t * full + (n - t) * (full - P if not i.conditional else 1)
        else:
            c = n * (_base_cost(i, table, P) if pairing or i.kind != "store_imm" else table["class"]["store_reg"]["cycles"])
        if not pairing:
            out[a] = c
            continue
        prev = insns.get(a - 2) if (a - 2) in insns and insns[a - 2].size == 2 else insns.get(a - 4)
        if prev is not None and prev.addr + prev.size == a and prev.func == i.func and prev.addr in counts:
            pairs = counts[prev.addr] - taken.get(prev.addr, 0)    # executions of i right after prev
            pairs = max(0, min(pairs, n))
            if pairs:
                if prev.kind == "load" and i.kind == "load" and not set(prev.dest) & set(i.addr_regs):
                    c -= pairs * (2 - pl)
                elif prev.kind == "load" and i.kind == "store_reg" and not set(prev.dest) & set(i.addr_regs):
                    c -= pairs * (2 - table["class"]["store_reg"]["pipelined"])
                if (prev.kind in ("alu", "mul", "dsp", "div") and prev.dest and
                        i.kind in ("load", "load_pc", "store_imm", "store_reg", "ldrd", "strd", "ldm", "stm") and
                        set(prev.dest) & set(i.addr_regs)):
                    c += pairs * table["stall"]["agu"]["cycles"]
        out[a] = c
    return out


def m7_bound(insns: dict[int, Insn], counts: dict[int, int], taken: dict[int, int]) -> dict[int, float]:
    """A Cortex-M7 throughput lower bound per basic block (not a published table): per execution of a
    block max(instructions / 2, multiply + DSP instructions, load / store beats of a 64-bit path).
    Returned per PC (the block's cycles on its first instruction)."""
    out: dict[int, float] = {}
    block: list[Insn] = []

    def close():
        if block:
            n = counts[block[0].addr]
            issue = len(block) / 2
            mac = sum(1 for b in block if b.kind in ("mul", "dsp", "div"))
            beats = sum(math.ceil(b.nregs / 2) if b.kind in ("ldm", "stm") else 1 for b in block
                        if b.kind in ("load", "load_pc", "store_imm", "store_reg", "ldrd", "strd", "ldm", "stm"))
            out[block[0].addr] = n * max(issue, mac, beats, 1)
            block.clear()
    for a in sorted(counts):
        i = insns[a]
        if block and (block[-1].addr + block[-1].size != a or counts[block[-1].addr] != counts[a]
                      or block[-1].func != i.func):
            close()
        block.append(i)
        if i.flow:
            close()
    close()
    return out


def by_function(insns: dict[int, Insn], per_pc: dict[int, float]) -> collections.Counter:
    out = collections.Counter()
    for a, c in per_pc.items():
        out[insns[a].func] += c
    return out


# ---------------------------------------------------------------------------- running firmware

CORES = {"m4": ("cortex-m4", "mps2-an386", 0), "m7": ("cortex-m7", "mps2-an500", 0),
         "m33": ("cortex-m33", "mps2-an505", 0x10000000)}     # target, board, code origin


def plugin() -> Path:
    """benchmarks/qemu_pccount.c built with the host gcc: mcuforge.sim.layer_counts builds it once
    per source version and keeps it."""
    from mcuforge.sim.layer_counts import plugin as built
    return built()


def symbols(elf: Path) -> list[tuple[int, int, str]]:
    """(address, size, name) of the ELF's functions, sorted."""
    nm = subprocess.run(["arm-none-eabi-nm", "-S", "--defined-only", str(elf)], capture_output=True, text=True,
                        check=True).stdout.splitlines()
    return sorted((int(f[0], 16) & ~1, int(f[1], 16), f[3]) for f in map(str.split, nm)
                  if len(f) == 4 and f[2] in "tTwW")


def run_pccount(elf: Path, board: str, base: int, so: Path, cwd: Path, taken: bool = True,
                window: tuple[int, int] | None = None, expect_pairs: int | None = 1):
    """Run `elf` under QEMU with the counting plugin: (per-PC counts, per-PC taken counts or {}).
    window: (start, stop) PCs; by default mcf_board_counter_start / _stop (one inference)."""
    from mcuforge.sim.qemu import qemu_command
    syms = symbols(elf)
    if window is None:
        addr = {name: a for a, _, name in syms}
        window = (addr["mcf_board_counter_start"], addr["mcf_board_counter_stop"])
    cwd = Path(cwd).resolve()
    cnt, tk = cwd / "pccount.txt", cwd / "pctaken.txt"
    args = f"{so},out={cnt},base={base},start={window[0]},stop={window[1]}" + (f",taken={tk}" if taken else "")
    cmd = qemu_command(board, elf)
    cmd[-2:-2] = ["-plugin", args]
    subprocess.run(cmd, cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL, check=True, timeout=600)
    first = cnt.read_text().split("\n", 1)[0]
    if expect_pairs is not None:
        assert first == f"# pairs {expect_pairs}", first
    return read_counts(cnt), (read_counts(tk) if taken else {})


def function_of(syms, a: int) -> str:
    starts = [s[0] for s in syms]
    i = bisect.bisect_right(starts, a) - 1
    return syms[i][2] if i >= 0 and a < syms[i][0] + syms[i][1] else f"?{a:x}"


@dataclass
class Profile:
    instructions: int
    cycles: dict                # P -> modelled M4 cycles
    m7: float
    per_fn_instr: collections.Counter
    per_fn_cycles: collections.Counter      # at the default P
    exact: bool
    macs: int


def profile(out: Path, core: str, so: Path, P_values=(1, 2, 3), P_default=2):
    """(instructions, {P: modelled M4 cycles, "plain": without the pairing rules at P_default}, M7
    bound, instructions per function, modelled cycles per function at P_default) of one inference of
    the firmware built in out/build/<board>."""
    target, board, base = CORES[core]
    bdir = out / "build" / board
    elf = bdir / "firmware.elf"
    counts, taken = run_pccount(elf, board, base, so, bdir / "run")
    insns = disassemble(elf)
    per_instr = collections.Counter()
    for a, n in counts.items():
        per_instr[insns[a].func] += n
    cyc = {P: sum(m4_cycles(insns, counts, taken, P).values()) for P in P_values}
    cyc["plain"] = sum(m4_cycles(insns, counts, taken, P_default, pairing=False).values())
    per_cyc = by_function(insns, m4_cycles(insns, counts, taken, P_default))
    m7 = sum(m7_bound(insns, counts, taken).values())
    return sum(counts.values()), cyc, m7, per_instr, per_cyc


def build_and_profile(model, calib, x, out: Path, bits: int, core: str, so: Path, speed_first: bool = False,
                      P: int = 2) -> Profile:
    import numpy as np
    from mcuforge.api import compile_model, simulate
    target, board, _ = CORES[core]
    res = compile_model(model, out, target=target, calib=calib, quiet=True, weight_bits=bits, speed_first=speed_first)
    y, _ = simulate(out, board=board, x=x, quiet=True)
    ref, _ = simulate(out, board="reference", x=x, quiet=True)
    ys, refs = (y, ref) if isinstance(y, list) else ([y], [ref])
    exact = all(np.array_equal(a, b) for a, b in zip(ys, refs))
    n, cyc, m7, pi, pc = profile(out, core, so, P_default=P)
    return Profile(n, cyc, m7, pi, pc, exact, res.info["macs"])


COMMON = ("mcf_board_counter_start", "main", "memcpy")
LOOPS = ("quad_dot", "mcf_sub_fc_radix2", "mcf_sub_fc_radix4", "mcf_sub_fc_radix8", "mcf_sub_fc_radix16",
         "mcf_sub_fc_h4x2", "mcf_sub_fc_h2", "mcf_sub_fc_hq", "mcf_sub_fc_hq_s", "mcf_sub_fc_h8", "mcf_sub_fc_h8_s",
         "mcf_sub_fc_h16", "mcf_sub_fc_h16_s")


def profile_lines(name: str, core: str, r: dict, P: int) -> list[str]:
    """Per build, its functions by modelled cycles: instructions / cycles each (COMMON left out)."""
    out = []
    for b in (8, 4, 2):
        fns = sorted((f for f in r[b].per_fn_cycles if f not in COMMON), key=lambda f: -r[b].per_fn_cycles[f])
        cells = ", ".join(f"{f.replace('mcf_', '')} {r[b].per_fn_instr[f]:,} / {r[b].per_fn_cycles[f]:,.0f}"
                          for f in fns[:8])
        out.append(f"|   {name} {core.upper()} w{b} (instructions / cycles at P = {P}) | {cells} ||||||||")
    return out


def bench(rows, work: Path, so: Path, cores, P: int, loops: bool, speed_first: bool = False, prof: bool = False):
    print(f"| layer | core | int8 instructions / modelled cycles (M4 TRM, zero wait states, P = {P}; M7: throughput bound) | int4 | ternary | int4 / int8 instructions -> cycles | "
          f"ternary / int8 instructions -> cycles | cycles ratio int4 / ternary at P = 1; P = 3; no pairing rules | bit-exact |")
    print("|---|---|---|---|---|---|---|---|---|")
    loop_rows = []
    for name, (model, calib, x) in rows:
        for core in cores:
            r = {}
            for bits in (8, 4, 2):
                folder = work / f"{''.join(ch if ch.isalnum() else '_' for ch in name)}_{core}_{bits}"
                r[bits] = build_and_profile(model, calib, x, folder, bits, core, so, speed_first, P)
            cyc = (lambda b, p=P: r[b].cycles[p]) if core != "m7" else (lambda b, p=P: r[b].m7)
            cell = lambda b: f"{r[b].instructions:,} / {cyc(b):,.0f}"
            ratio = lambda b: f"{r[b].instructions / r[8].instructions:.3f}x -> {cyc(b) / cyc(8):.3f}x"
            sens = ("" if core == "m7" else
                    f"{cyc(4, 1) / cyc(8, 1):.3f} / {cyc(2, 1) / cyc(8, 1):.3f}; "
                    f"{cyc(4, 3) / cyc(8, 3):.3f} / {cyc(2, 3) / cyc(8, 3):.3f}; "
                    f"{cyc(4, 'plain') / cyc(8, 'plain'):.3f} / {cyc(2, 'plain') / cyc(8, 'plain'):.3f}")
            label = {"m4": "M4", "m33": "M33 (M4 table)", "m7": "M7 (bound)"}[core]
            ok = all(v.exact for v in r.values())
            print(f"| {name} | {label} | {cell(8)} | {cell(4)} | {cell(2)} | {ratio(4)} | {ratio(2)} | {sens} | "
                  f"{'yes' if ok else 'NO'} |", flush=True)
            if prof and core != "m7":
                print("\n".join(profile_lines(name, core, r, P)), flush=True)
            if loops and core != "m7" and (name == "ad_fcae" or name.startswith("FC") and int(name.split("->")[1]) % 8 == 0):
                for b in (8, 4, 2):
                    fi = sum(r[b].per_fn_instr[f] for f in LOOPS)
                    fc = sum(r[b].per_fn_cycles[f] for f in LOOPS)
                    if fi:
                        loop_rows.append((name, core, b, fi, fc, r[b].macs))
    if loop_rows:
        print()
        print("Row loops (int8: quad_dot; int4 / ternary: mcf_sub_fc_radix*), layers whose loops do every MAC:")
        print()
        print(f"| layer | core | bits | row loops' instructions | modelled cycles (P={P}) | instr / 16 MACs | "
              f"cycles / 16 MACs | cycles / instr |")
        print("|---|---|---|---|---|---|---|---|")
        for name, core, b, fi, fc, macs in loop_rows:
            print(f"| {name} | {core.upper()} | {b} | {fi:,} | {fc:,.0f} | {16 * fi / macs:.2f} | {16 * fc / macs:.2f} | "
                  f"{fc / fi:.2f} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", help="comma-separated K->N FC rows (default: subbyte_fc.py's)")
    ap.add_argument("--no-models", action="store_true", help="skip the MLPerf Tiny models")
    ap.add_argument("--models", default="ad_fcae", help="comma-separated MLPerf Tiny model names (ad_fcae, kws_dscnn, vww_mbv1_96, ic_resnet8)")
    ap.add_argument("--conv", action="store_true", help="also a conv and a depthwise layer")
    ap.add_argument("--cores", default="m4,m33,m7")
    ap.add_argument("--p", type=int, default=2, help="pipeline refill P of the tables (1-3)")
    ap.add_argument("--work", help="keep the build folders here")
    ap.add_argument("--profile", action="store_true", help="per-function instructions / modelled cycles under each row")
    ap.add_argument("--speed-first", action="store_true", help="compile with speed_first (default: the default kernel "
                    "choice, as benchmarks/subbyte_fc.py and subbyte.py build)")
    args = ap.parse_args(argv)
    sys.path[:0] = [str(HERE.parent / "compiler"), str(HERE.parent / "tests" / "kernels"), str(HERE.parent / "tests")]
    from layer_models import build_model, conv_spec, dw_spec  # noqa: E402
    from mlperf_data import mlperf_dir  # noqa: E402
    from subbyte_fc import fc_rows  # noqa: E402
    with tempfile.TemporaryDirectory(prefix="mcf_cycle_model_") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        so = plugin()
        rows = fc_rows(args.layers, work)
        if args.conv:
            for name, spec in (("conv 3x3 32->32 @8x8", conv_spec(32, 32, 8)),
                               ("pointwise 64->128 @6x6", conv_spec(64, 128, 6, k=1)),
                               ("depthwise 3x3 128 @12x12", dw_spec(128, 12))):
                model, calib, x = build_model([spec], work / name.replace(" ", "_").replace(">", "") / "model.onnx")
                rows.append((name, (model, calib, [a[:1] for a in x])))
        if not args.no_models:
            for m in args.models.split(","):
                p = mlperf_dir() / f"{m}_int8.tflite"
                if p.is_file():
                    rows.append((m, (p, None, None)))
                else:
                    print(f"({p} not found)")
        bench(rows, work, so, args.cores.split(","), args.p, loops=True, speed_first=args.speed_first, prof=args.profile)


if __name__ == "__main__":
    main()
