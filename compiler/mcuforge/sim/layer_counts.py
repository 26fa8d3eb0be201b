"""Exact executed instructions per layer of a compiled model on a QEMU board.

The counting QEMU TCG plugin (benchmarks/qemu_pccount.c, built here with the host gcc) is given the
addresses of the model's kernel calls (each BL in the model's own functions, `<prefix>_*`) and of
their return addresses; it logs the instructions executed so far at each. A call's count is the
difference: the kernel's instructions (and whatever it calls, e.g. memset), the BL included, no
argument set-up, I/O copy or harness. Used to fit the instruction models (quant/instr_model.py) to
the kernels alone and to check them on the layers of real models
(benchmarks/instr_model_coverage.py --measure).

Needs a checkout (the plugin source lives in benchmarks/), gcc, arm-none-eabi-objdump and QEMU.
"""
from __future__ import annotations

import hashlib
import re
import subprocess
import tempfile
from pathlib import Path

from ..errors import McuforgeError

PLUGIN_SRC = Path(__file__).resolve().parents[3] / "benchmarks" / "qemu_pccount.c"
_BL = re.compile(r"^\s*([0-9a-f]+):\s+[0-9a-f]{4} [0-9a-f]{4}\s+blx?(?:\.w)?\s+[0-9a-f]+ <([A-Za-z0-9_.]+)>", re.M)
_FUNC = re.compile(r"^([0-9a-f]+) <([A-Za-z0-9_.]+)>:$", re.M)


def plugin() -> Path:
    """The counting plugin, built once per source version into the temp folder."""
    if not PLUGIN_SRC.is_file():
        raise McuforgeError(f"per-layer counting needs the plugin source {PLUGIN_SRC} (a checkout)")
    tag = hashlib.sha256(PLUGIN_SRC.read_bytes()).hexdigest()[:12]
    so = Path(tempfile.gettempdir()) / f"mcf_qemu_pccount_{tag}.so"
    if not so.is_file():
        tmp = so.with_suffix(f".{id(so)}.tmp")
        subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", str(tmp), str(PLUGIN_SRC)],
                       check=True)
        tmp.replace(so)
    return so


def kernel_calls(elf: Path, prefix: str) -> dict[int, str]:
    """{address of each BL / BLX in the model's functions (`<prefix>_*`): the function it calls}."""
    dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)],
                         capture_output=True, text=True, check=True).stdout
    calls: dict[int, str] = {}
    funcs = list(_FUNC.finditer(dis))
    for i, f in enumerate(funcs):
        if not f.group(2).startswith(prefix + "_"):
            continue
        body = dis[f.end():funcs[i + 1].start() if i + 1 < len(funcs) else len(dis)]
        for m in _BL.finditer(body):
            calls[int(m.group(1), 16)] = m.group(2)
    return calls


def count_calls(out_dir, board) -> list[tuple[str, int]]:
    """(kernel function, executed instructions) of each call the model's functions make, in order, for
    one inference of the firmware `simulate` last built for `board` in out_dir/build/<board>."""
    from ..api import read_info
    from ..targets import load_board
    from .qemu import qemu_command
    out_dir = Path(out_dir)
    board = load_board(board) if isinstance(board, str) else board
    info = read_info(out_dir)
    bdir = out_dir / "build" / board.name
    elf, run = bdir / "firmware.elf", (bdir / "run").resolve()
    if not elf.is_file():
        raise McuforgeError(f"no firmware in {bdir}: simulate the model on {board.name} first")
    calls = kernel_calls(elf, info["prefix"])
    if not calls:
        raise McuforgeError(f"no kernel calls found in {info['prefix']}_* of {elf}")
    marks, log = run / "marks.txt", run / "marks.log"
    # a BL is 4 bytes: the call's return address is the next instruction
    marks.write_text("".join(f"{a:x}\n{a + 4:x}\n" for a in sorted(calls)))
    base = board.flash_origin or 0
    cmd = qemu_command(board, elf)
    cmd[-2:-2] = ["-plugin", f"{plugin()},out={run / 'pccount.txt'},base={base},marks={marks},log={log}"]
    subprocess.run(cmd, cwd=run, capture_output=True, stdin=subprocess.DEVNULL, check=True, timeout=600)
    out, pending = [], None
    for line in log.read_text().splitlines():
        a, n = line.split()
        a, n = int(a, 16), int(n)
        if a in calls:
            pending = (a, n)
        elif pending is not None and a == pending[0] + 4:
            out.append((calls[pending[0]], n - pending[1]))
            pending = None
    return out


def layer_instructions(out_dir, board, rows: list[dict]) -> list[int]:
    """Executed instructions of each row (report rows of out_dir's layers, e.g. the convolutions and
    dense layers) matched in order to the calls of their kernels: the k-th row with kernel K gets the
    k-th call to K. Fails if a kernel is called a different number of times than rows name it."""
    calls = count_calls(out_dir, board)
    by_kernel: dict[str, list[int]] = {}
    for fn, n in calls:
        by_kernel.setdefault(fn, []).append(n)
    want: dict[str, int] = {}
    for r in rows:
        want[r["kernel"]] = want.get(r["kernel"], 0) + 1
    for k, n in want.items():
        if len(by_kernel.get(k, [])) != n:
            raise McuforgeError(f"{out_dir}: {n} layer(s) run {k}, the firmware called it "
                                f"{len(by_kernel.get(k, []))} time(s)")
    seen: dict[str, int] = {}
    res = []
    for r in rows:
        i = seen.get(r["kernel"], 0)
        seen[r["kernel"]] = i + 1
        res.append(by_kernel[r["kernel"]][i])
    return res
