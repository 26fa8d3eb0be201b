"""benchmarks/cycle_model.py: the Cortex-M4 cycle model on exact per-PC counts.

1. A hand-written assembly loop under QEMU (mps2-an386): the plugin's counts and taken counts are
   exact, and the model's total equals the sum of the TRM rules computed here by hand, at P = 1, 2, 3.
2. A compiled one-layer model: the per-PC counts of one inference match QEMU's -icount / SysTick
   count (to its resolution) and do not change with the taken mode, the taken counts are
   consistent (unconditional flow changes always taken, none above its count), and every function's modelled cycles lie between its
   instructions and the table's worst case.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests" / "kernels")]

import cycle_model as cm  # noqa: E402
from layer_models import build_model, fc_spec, need_qemu  # noqa: E402

N = 37          # loop iterations

# One iteration, with the TRM cost of each instruction (Cortex-M4, zero wait states):
LOOP = [
    ("ldmia r0!, {r1, r2, r3, r4}", 5),       # LDM: 1 + N, N = 4
    ("smlad r6, r1, r2, r6", 1),              # DSP multiply-accumulate: 1
    ("smlad r6, r3, r4, r6", 1),
    ("ldr r7, [r0, #0]", 2),                  # LDR: 2 (after a non-load: not pipelined)
    ("ldr r8, [r0, #4]", 1),                  # LDR after LDR, r7 not in its address: pipelined, 1
    ("add r10, r0, #8", 1),                   # ALU: 1
    ("ldr r11, [r10]", 3),                    # LDR 2 + 1: its address is the preceding ALU result (AGU stall)
    ("str r11, [r0, #-4]", 1),                # STR [Rn, #imm]: always 1
    ("ldrd r1, r2, [r0]", 3),                 # LDRD: 1 + N = 3
    ("subs r5, r5, #1", 1),
]                                             # + bne loop: 1 + P taken (N - 1 times), 1 not taken (once)
ASM = """
    .syntax unified
    .cpu cortex-m4
    .thumb
    .text
    .word 0x20100000
    .word reset
    .thumb_func
    .global reset
reset:
    movw r0, #0
    movt r0, #0x2000
    movs r6, #0
    .global start
start:
    movs r5, #{n}
loop:
{body}
    bne loop
    .global stop
stop:
    nop
    movs r0, #0x20
    adr r1, exitblk
    bkpt 0xab
    b .
    .align 2
exitblk:
    .word 0x20026, 0
"""


def trm_sum(P: int) -> int:
    """The hand computation: movs (1) + N iterations of LOOP, the branch taken N - 1 times."""
    per = sum(c for _, c in LOOP)
    return 1 + N * per + (N - 1) * (1 + P) + 1


@pytest.fixture(scope="module")
def so():
    need_qemu()
    return cm.plugin()


def test_assembly_loop_matches_trm_sum(so, tmp_path):
    src = tmp_path / "loop.S"
    src.write_text(ASM.format(n=N, body="\n".join(f"    {i}" for i, _ in LOOP)))
    elf = tmp_path / "loop.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-nostdlib", "-nostartfiles",
                    "-Wl,-Ttext=0", "-Wl,-e,reset", "-o", str(elf), str(src)], check=True)
    nm = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    addr = {f[2]: int(f[0], 16) for f in map(str.split, nm.splitlines()) if len(f) == 3}
    counts, taken = cm.run_pccount(elf, "mps2-an386", 0, so, tmp_path, window=(addr["start"], addr["stop"]))
    insns = cm.disassemble(elf)
    # the counts themselves: movs once, every loop instruction N times, the branch taken N - 1 times
    assert sum(counts.values()) == 1 + N * (len(LOOP) + 1)
    bne = max(a for a in counts if a < addr["stop"])
    assert insns[bne].kind == "branch" and insns[bne].conditional
    assert taken == {bne: N - 1}
    for P in (1, 2, 3):
        assert sum(cm.m4_cycles(insns, counts, taken, P).values()) == trm_sum(P)
    # M7 bound: one basic block of 11 instructions (5.5 issue cycles), 2 DSP, load / store beats
    # LDM of 4: 2, three LDR, STR, LDRD: 1 each -> 7 a pass
    m7 = cm.m7_bound(insns, counts, taken)
    assert sum(m7.values()) == 1 + N * max((len(LOOP) + 1) / 2, 2, 2 + 1 + 1 + 1 + 1 + 1)


def test_counts_of_a_compiled_model(so, tmp_path):
    import numpy as np

    from mcuforge.api import compile_model, simulate
    model, calib, x = build_model([fc_spec(64, 10)], tmp_path / "m" / "model.onnx")
    out = tmp_path / "out"
    compile_model(model, out, target="cortex-m4", calib=calib, quiet=True, weight_bits=4)
    y, info = simulate(out, board="mps2-an386", x=[a[:1] for a in x], quiet=True)
    ref, _ = simulate(out, board="reference", x=[a[:1] for a in x], quiet=True)
    assert np.array_equal(y, ref)
    elf = out / "build" / "mps2-an386" / "firmware.elf"
    counts, taken = cm.run_pccount(elf, "mps2-an386", 0, so, out / "build" / "mps2-an386" / "run")
    plain, none = cm.run_pccount(elf, "mps2-an386", 0, so, out / "build" / "mps2-an386" / "run", taken=False)
    assert plain == counts and none == {}            # the taken mode leaves the counts alone
    total = sum(counts.values())
    # -icount / SysTick counts the same window to one tick (40 instructions on mps2-an386)
    assert abs(total - info["instructions"]) <= 40, (total, info["instructions"])
    insns = cm.disassemble(elf)
    assert set(counts) <= set(insns)
    for a, t in taken.items():
        assert 0 < t <= counts[a], hex(a)
        assert insns[a].flow, (hex(a), insns[a])        # only flow instructions leave the fall-through
    for a, n in counts.items():
        i = insns[a]
        if i.flow and not i.conditional and i.kind != "table_branch":
            assert taken.get(a, 0) == n, (hex(a), i)      # unconditional: taken every time
    cyc = cm.m4_cycles(insns, counts, taken, 2)
    per_fn = cm.by_function(insns, cyc)
    n_fn = cm.by_function(insns, counts)
    assert sum(per_fn.values()) == pytest.approx(sum(cyc.values()))
    for f, n in n_fn.items():
        assert n <= per_fn[f] <= 15 * n, f
    # the packed loop is in there and costs more than one cycle an instruction (its loads; 64 -> 10 is
    # a head: mcf_sub_fc_h4x2 / _h8_s)
    loop = [f for f in n_fn if f.startswith(("mcf_sub_fc_radix", "mcf_sub_fc_h"))]
    assert loop and all(per_fn[f] > n_fn[f] for f in loop)
