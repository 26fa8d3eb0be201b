"""C-simulation of an `mcuforge hls` project with g++ (what Vitis' csim_design does), against
mcuforge's own ap_types or, when given, another ap_types folder (e.g. Xilinx's own headers)."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np

from ..errors import McuforgeError
from ..codegen.fpga.golden import read_raw, write_raw

CXXFLAGS = ["-std=c++14", "-O1", "-Wno-unknown-pragmas"]


def build_csim(prj, ap_types_dir=None) -> Path:
    """Compile firmware + testbench; cached per ap_types folder until the sources change."""
    prj = Path(prj).resolve()
    doc = json.loads((prj / "model.json").read_text())
    name = doc["project"]
    ap = Path(ap_types_dir).resolve() if ap_types_dir else prj / "firmware" / "ap_types"
    tag = "own" if ap_types_dir is None else "vendor"
    exe = prj / "build" / f"{name}_csim_{tag}"
    sources = [prj / "firmware" / f"{name}.cpp", prj / "tb" / f"{name}_test.cpp"]
    if exe.is_file() and all(exe.stat().st_mtime > s.stat().st_mtime for s in sources):
        return exe
    cxx = shutil.which("g++")
    if cxx is None:
        raise McuforgeError("g++ not found: C-simulation of the HLS project needs a host C++ compiler")
    exe.parent.mkdir(exist_ok=True)
    cmd = [cxx, *CXXFLAGS, f"-I{ap}", f"-I{prj / 'firmware'}", *map(str, sources), "-o", str(exe)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        first = next((l for l in r.stderr.splitlines() if "error" in l), r.stderr.strip()[:300])
        raise McuforgeError(f"C-simulation build of {prj} failed: {first}")
    return exe


def run_csim(prj, x_raw: np.ndarray, ap_types_dir=None) -> np.ndarray:
    """Raw input frames [N, n_in] -> raw output frames [N, n_out]."""
    prj = Path(prj).resolve()
    exe = build_csim(prj, ap_types_dir)
    doc = json.loads((prj / "model.json").read_text())
    n_out = int(np.prod(doc["output"]["shape"]))
    work = prj / "build"
    write_raw(work / "csim_in.dat", x_raw)
    r = subprocess.run([str(exe), str(work / "csim_in.dat"), str(work / "csim_out.dat")],
                       capture_output=True, text=True, cwd=prj)
    if r.returncode:
        raise McuforgeError(f"C-simulation of {prj} failed: {r.stderr.strip()[:300]}")
    return read_raw(work / "csim_out.dat", n_out)


def run_testbench(prj, ap_types_dir=None) -> subprocess.CompletedProcess:
    """The project's own testbench on its golden vectors (exit code 0 = bit-exact)."""
    prj = Path(prj).resolve()
    exe = build_csim(prj, ap_types_dir)
    return subprocess.run([str(exe)], capture_output=True, text=True, cwd=prj)
