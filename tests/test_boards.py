"""Board support and simulation runner, checked on every board in targets/boards/ (host included).

One small probe program is built once per board and run with different input files:
it reads inputs by offset, computes, writes an output file (write + append), reports instruction
counts of two loops of known length, and returns an exit code taken from its input.
"""
from __future__ import annotations

import re
import struct
import subprocess

import pytest

from mcuforge.errors import McuforgeError
from mcuforge.sim import toolchain
from mcuforge.sim.build import build_firmware, elf_memory
from mcuforge.sim.qemu import FAULT_EXIT_CODE, parse_instructions, run_firmware
from mcuforge.targets import list_boards, list_cores, load_board, load_core

PROBE_C = r"""
#include <stdint.h>
#include "mcf_board.h"

/* cfg.bin: int32 exit_code, int32 action (0 run, 1 undefined instruction, 2 runaway recursion),
 *          uint32 offset (bytes into data.bin), uint32 recursion limit */
#define N 64
static int32_t a[N], b[N], z[N];
static volatile uint32_t sink;

static uint32_t __attribute__((noinline)) spin(uint32_t n)
{
    uint32_t acc = 0;
    for (uint32_t i = 0; i < n; ++i) {
        acc += i ^ sink;
        sink = acc;
    }
    return acc;
}

/* Element-wise int32 add: GCC -O3 vectorizes this with MVE on the M55. */
static int32_t __attribute__((noinline)) add_and_sum(void)
{
    int32_t s = 0;
    for (int i = 0; i < N; ++i) z[i] = a[i] + b[i];
    for (int i = 0; i < N; ++i) s += z[i] ^ (int32_t)i;
    return s;
}

/* The callee writes into its caller's frame, so the frames stay live (no tail-call loop). */
static uint32_t __attribute__((noinline)) recurse(volatile uint32_t *parent, uint32_t depth, uint32_t limit)
{
    volatile uint32_t frame[32];
    frame[0] = depth;
    parent[1] = depth;
    if (depth >= limit) return frame[0];
    return recurse(frame, depth + 1u, limit) + frame[1];
}

int main(void)
{
    uint32_t cfg[4];
    uint32_t k, n;
    mcf_board_init();
    if (mcf_board_read_file("cfg.bin", cfg, sizeof cfg) != 0) return MCF_BOARD_EXIT_IO;
    if (cfg[1] == 1u) {
#if defined(__arm__)
        __asm__ volatile(".inst.n 0xde00"); /* udf #0 */
#else
        __builtin_trap();
#endif
    }
    if (cfg[1] == 2u) {
        volatile uint32_t top[2];
        sink = recurse(top, 0u, cfg[3]);
    }
    if (mcf_board_read_file("data.bin", b, sizeof b) != 0) return MCF_BOARD_EXIT_IO;
    for (k = 0; k < 2u; ++k) { /* two "inferences", inputs read by offset from one file */
        int32_t s;
        if (mcf_board_read_file_at("data.bin", a, sizeof a, cfg[2] + k * 128u) != 0) return MCF_BOARD_EXIT_IO;
        mcf_board_counter_start();
        s = add_and_sum();
        mcf_board_report_instructions(0, mcf_board_counter_stop());
        if (mcf_board_write_file("out.bin", &s, sizeof s, (int)k) != 0) return MCF_BOARD_EXIT_IO;
    }
    for (n = 5000u; n <= 10000u; n += 5000u) {
        uint64_t count;
        mcf_board_counter_start();
        (void)spin(n);
        count = mcf_board_counter_stop();
        mcf_board_report_instructions(n == 5000u ? "loop5000" : "loop10000", count);
    }
    mcf_board_report_stack();
    mcf_board_print("done ");
    mcf_board_print_u64(12345678901234ull);
    mcf_board_print("\n");
    return (int)cfg[0];
}
"""

BOARDS = list_boards()
QEMU_BOARDS = [b for b in BOARDS if not load_board(b).is_host]
STACK = 2048
DATA = [(i * 7919) % 1000 - 500 for i in range(160)]


def _opt(board: str) -> str:
    # The M55 is built at -O3 so that MVE code runs right after startup (CP10/CP11 enabled first).
    return "-O3" if board == "mps3-an547" else "-O2"


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    src = tmp_path_factory.mktemp("probe_src") / "probe.c"
    src.write_text(PROBE_C)
    built = {}

    def get(board: str):
        if board not in built:
            out = tmp_path_factory.mktemp(f"build_{board}")
            try:
                elf = build_firmware(board, [src], [], out, opt=_opt(board), stack_bytes=STACK)
            except McuforgeError as exc:
                if "not found" in str(exc) and "apt-get" in str(exc):
                    pytest.skip(str(exc))
                raise
            built[board] = elf
        return built[board]

    get.src = src
    return get


def _run(board, elf, cwd, exit_code=0, action=0, offset=12, limit=0):
    cwd.mkdir(parents=True, exist_ok=True)
    (cwd / "cfg.bin").write_bytes(struct.pack("<iiII", exit_code, action, offset, limit))
    (cwd / "data.bin").write_bytes(struct.pack(f"<{len(DATA)}i", *DATA))
    (cwd / "out.bin").unlink(missing_ok=True)
    try:
        return run_firmware(board, elf, cwd, timeout=30)
    except McuforgeError as exc:
        if "apt-get" in str(exc):
            pytest.skip(str(exc))
        raise


def _expected_sum(offset: int, k: int) -> int:
    first = offset // 4 + k * 32
    total = sum(((DATA[first + i] + DATA[i]) ^ i) for i in range(64))
    return struct.unpack("<i", struct.pack("<I", total & 0xFFFFFFFF))[0]


@pytest.mark.parametrize("board", BOARDS)
def test_exit_code_and_file_roundtrip(board, probe, tmp_path):
    result = _run(board, probe(board), tmp_path, exit_code=3, offset=12)
    assert result.exit_code == 3, result.stdout + result.stderr
    assert "done 12345678901234" in result.stdout
    sums = struct.unpack("<2i", (tmp_path / "out.bin").read_bytes())  # write, then append
    assert sums == (_expected_sum(12, 0), _expected_sum(12, 1))
    result = _run(board, probe(board), tmp_path / "second", exit_code=0, offset=40)
    assert result.exit_code == 0
    assert struct.unpack("<2i", (tmp_path / "second" / "out.bin").read_bytes()) == (
        _expected_sum(40, 0), _expected_sum(40, 1))


@pytest.mark.parametrize("board", BOARDS)
def test_instruction_counts(board, probe, tmp_path):
    first = _run(board, probe(board), tmp_path / "a")
    second = _run(board, probe(board), tmp_path / "b", offset=40)
    if load_board(board).is_host:
        assert first.instructions is None and first.instruction_marks == []
        return
    assert len(first.instructions) == 2  # one unlabelled line per inference
    assert all(n > 64 for n in first.instructions)
    # deterministic: same instructions executed -> same count, run after run
    assert first.instructions == second.instructions
    assert first.instruction_marks == second.instruction_marks
    marks = dict(first.instruction_marks)
    assert set(marks) == {"loop5000", "loop10000"}
    # The spin loop is 6-7 instructions per iteration on every core (checked in the disassembly).
    assert 4 * 5000 < marks["loop5000"] < 12 * 5000
    ratio = marks["loop10000"] / marks["loop5000"]
    assert abs(ratio - 2.0) < 0.02, marks


@pytest.mark.parametrize("board", BOARDS)
def test_memory_figures(board, probe):
    elf = probe(board)
    mem = elf_memory(elf)
    assert mem["stack_bytes"] is not None and 16 <= mem["stack_bytes"] <= 4096
    assert any("recursion through recurse" in note for note in mem["stack_notes"])
    if load_board(board).is_host:
        assert mem["flash_bytes"] is None and mem["ram_bytes"] is None
        return
    assert 1000 < mem["flash_bytes"] < 32 * 1024
    assert 3 * 64 * 4 <= mem["static_ram_bytes"] < 2048  # a, b, z and a few words
    assert mem["ram_bytes"] == mem["static_ram_bytes"] + mem["stack_bytes"]
    assert mem["stack_reserved_bytes"] == STACK
    assert mem["stack_bytes"] < STACK


@pytest.mark.parametrize("board", QEMU_BOARDS)
def test_painted_stack_within_static_bound(board, probe, tmp_path):
    # The high-water mark measured by stack painting must not exceed the call-graph bound.
    result = _run(board, probe(board), tmp_path)
    bound = elf_memory(probe(board))["stack_bytes"]
    assert result.stack_used is not None and 32 <= result.stack_used <= bound, (result.stack_used, bound)


@pytest.mark.parametrize("board", QEMU_BOARDS)
def test_fault_reports_and_exits_nonzero(board, probe, tmp_path):
    result = _run(board, probe(board), tmp_path, action=1)
    assert result.exit_code == FAULT_EXIT_CODE
    assert result.faulted and "pc=0x" in result.stdout
    if load_board(board).core.name != "cortex-m0":  # ARMv6-M has no CFSR/HFSR
        assert "cfsr=0x" in result.stdout and "hfsr=0x" in result.stdout
    with pytest.raises(McuforgeError, match="MCF_FAULT"):
        result.check()


@pytest.mark.parametrize("board", ["mps2-an505", "mps3-an547"])
def test_stack_overflow_traps_on_armv8m(board, probe, tmp_path):
    # MSPLIM is set to the bottom of .stack, so runaway recursion raises STKOF (CFSR bit 20).
    result = _run(board, probe(board), tmp_path, action=2, limit=1_000_000)
    assert result.exit_code == FAULT_EXIT_CODE, result.stdout
    cfsr = int(re.search(r"cfsr=0x([0-9a-f]{8})", result.stdout).group(1), 16)
    assert cfsr & (1 << 20), result.stdout


def test_m55_o3_uses_mve(probe):
    elf = probe("mps3-an547")
    objdump = toolchain.arm_binutil("objdump")
    text = subprocess.run([str(objdump), "-d", "-m", "armv8.1-m.main", str(elf)],
                          capture_output=True, text=True, check=True).stdout
    assert re.search(r"\svldrw\.", text), "expected MVE loads in the -O3 build"  # ran fine above


def test_systick_wraps_are_counted(probe, tmp_path):
    # A tiny reload value makes SysTick wrap every 64 ticks; the totals must match the
    # full-reload run up to the few instructions each wrap interrupt costs.
    board = "mps2-an386"
    full = dict(_run(board, probe(board), tmp_path / "full").instruction_marks)
    elf = build_firmware(board, [probe.src], [], tmp_path / "wrap", stack_bytes=STACK,
                         defines={"MCF_SYSTICK_RELOAD": "0x3Fu"})
    wrapped = dict(_run(board, elf, tmp_path / "wrap_run").instruction_marks)
    for key in full:
        assert full[key] <= wrapped[key] < full[key] * 1.01 + 200, (full, wrapped)


def test_stack_that_does_not_fit_is_a_link_error(probe, tmp_path):
    with pytest.raises(McuforgeError, match="overflow"):
        build_firmware("microbit", [probe.src], [], tmp_path, stack_bytes=20 * 1024)


def test_compile_error_names_first_error(tmp_path):
    bad = tmp_path / "bad.c"
    bad.write_text("int main(void) { int unused; return undefined_name; }\n")
    with pytest.raises(McuforgeError) as info:
        build_firmware("host", [bad], [], tmp_path / "out")
    message = str(info.value)
    assert "bad.c:1" in message and "error" in message and "undefined_name" in message


def test_missing_toolchain_names_apt_package(monkeypatch, tmp_path, probe):
    for var in ("MCUFORGE_ARM_GCC", "MCUFORGE_HOST_GCC", "MCUFORGE_QEMU_ARM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(McuforgeError, match=r"apt-get install .*gcc-arm-none-eabi libnewlib-arm-none-eabi"):
        build_firmware("mps2-an386", [probe.src], [], tmp_path / "out")
    with pytest.raises(McuforgeError, match=r"apt-get install .*qemu-system-arm"):
        toolchain.qemu_arm()
    with pytest.raises(McuforgeError, match=r"apt-get install .* gcc"):
        toolchain.host_gcc()


def test_targets_load_and_reject_unknown_names():
    assert {"host", "microbit", "mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505",
            "mps3-an547"} <= set(BOARDS)
    assert {"cortex-m0", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55",
            "host"} <= set(list_cores())
    assert load_core("cortex-m4").has("dsp") and not load_core("cortex-m3").has("dsp")
    assert load_core("cortex-m55").has("mve") and not load_core("cortex-m0").features
    an505 = load_board("mps2-an505")
    assert an505.flash_origin == 0x10000000 and an505.ram_origin == 0x38000000
    assert an505.ns_per_tick == 50.0 and load_board("mps3-an547").ns_per_tick == 31.25
    with pytest.raises(McuforgeError, match="valid boards: .*mps2-an386"):
        load_board("stm32-nope")
    with pytest.raises(McuforgeError, match="valid cores: .*cortex-m4"):
        load_core("cortex-m99")


def test_parse_instructions_convention():
    counts, marks = parse_instructions("x\nMCF_INSTRUCTIONS 10\nMCF_INSTRUCTIONS 20 conv 1\nMCF_INSTRUCTIONS 30\n")
    assert counts == [10, 30] and marks == [("conv 1", 20)]
