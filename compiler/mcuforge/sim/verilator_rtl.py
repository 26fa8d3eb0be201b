"""Builds an `mcuforge rtl` design with Verilator and streams frames through its testbench."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from ..codegen.fpga.golden import read_raw, write_raw
from ..errors import McuforgeError


def build(prj) -> Path:
    prj = Path(prj).resolve()
    top = json.loads((prj / "model.json").read_text())["top"]
    exe = prj / "obj_dir" / f"V{top}"
    sources = sorted((prj / "rtl").glob("*.v")) + [prj / "tb" / f"tb_{top}.cpp"]
    if exe.is_file() and all(exe.stat().st_mtime > s.stat().st_mtime for s in sources):
        return exe
    if shutil.which("verilator") is None:
        raise McuforgeError("verilator not found: install it (Debian: apt-get install verilator)")
    # the C++ compile dominates build time; the simulated designs are small, so optimize little
    cmd = ["verilator", "--cc", "--exe", "--build", "-j", "2", "-Wno-fatal", "-Wno-lint", "-Wno-style",
           "-MAKEFLAGS", "OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O0",
           "--top-module", top, "-Mdir", str(prj / "obj_dir"), *map(str, sources)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=prj)
    if r.returncode:
        first = next((l for l in r.stderr.splitlines() if "Error" in l or "error" in l), r.stderr.strip()[:300])
        raise McuforgeError(f"Verilator build of {prj} failed: {first}")
    return exe


def run(prj, x_raw: np.ndarray, expected: np.ndarray | None = None, seed: int = 1, gap_pct: int = 0,
        stall_pct: int = 0, isolated: bool = False) -> tuple[np.ndarray, dict]:
    """Raw frames [N, n_in] -> (raw outputs [N, n_out], {"cycles", "frames", "mismatches",
    "first_done", "last_done", "interval"}): cycles until the first and the last frame's last
    output left, and the steady-state interval between frames, (last - first) / (frames - 1)."""
    prj = Path(prj).resolve()
    exe = build(prj)
    n_out = int(np.prod(json.loads((prj / "model.json").read_text())["output"]["shape"]))
    work = prj / "obj_dir"
    write_raw(work / "vl_in.dat", x_raw)
    exp = "-"
    if expected is not None:
        write_raw(work / "vl_exp.dat", expected)
        exp = str(work / "vl_exp.dat")
    r = subprocess.run([str(exe), str(work / "vl_in.dat"), str(work / "vl_out.dat"), exp, str(seed),
                        str(gap_pct), str(stall_pct), "1" if isolated else "0"],
                       capture_output=True, text=True, timeout=600)
    m = re.search(r"frames (\d+) cycles (\d+) mismatches (\d+) first_done (\d+) last_done (\d+)", r.stdout)
    if m is None:
        raise McuforgeError(f"Verilator simulation of {prj} failed: {(r.stderr or r.stdout).strip()[:300]}")
    info = {"frames": int(m.group(1)), "cycles": int(m.group(2)), "mismatches": int(m.group(3)),
            "first_done": int(m.group(4)), "last_done": int(m.group(5)), "stderr": r.stderr}
    f = info["frames"]
    info["interval"] = (info["last_done"] - info["first_done"]) / (f - 1) if f > 1 else float(info["cycles"])
    return read_raw(work / "vl_out.dat", n_out), info
