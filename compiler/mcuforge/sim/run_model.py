"""Build a compiled model with its generated test main for a board, run it on a batch of inputs,
and read back outputs, instruction counts and memory figures."""
from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np

from ..errors import McuforgeError
from ..ir.tensor import DTYPES
from ..targets import load_board
from .build import build_firmware, elf_memory
from .qemu import run_firmware

STACK_RESERVE = 16 * 1024


def check_fits(info: dict, board) -> None:
    """Refuse a board whose RAM or flash cannot hold the model, naming the bytes."""
    if board.is_host:
        return
    # the test main keeps its own copy of one sample's inputs and outputs besides the library's
    main_io = sum(io["size"] * np.dtype(DTYPES[io["dtype"]]).itemsize for io in info["inputs"] + info["outputs"])
    io = info["io_bytes"] + main_io
    ram_needed = info["arena_bytes"] + io + STACK_RESERVE // 4
    if ram_needed > board.ram_size:
        raise McuforgeError(
            f"model does not fit {board.name}: needs {ram_needed} bytes of RAM (arena {info['arena_bytes']}, "
            f"I/O buffers {io}, stack {STACK_RESERVE // 4}), the board has {board.ram_size}")
    if info["weights_bytes"] > board.flash_size:
        raise McuforgeError(f"model does not fit {board.name}: weights need {info['weights_bytes']} bytes of "
                            f"flash, the board has {board.flash_size}")


def relower_for_core(out_dir: Path, core, lib_dir: Path, io_in_arena: bool = False,
                     arena_budget: int | None = None, speed_first: bool = False) -> tuple[Path, list[str]]:
    """The same device graph lowered for another core (its own kernel variants), so that one
    compiled model runs on every board: the host build uses the portable kernels, an M3 board
    never meets DSP instructions it does not have."""
    from ..codegen.c.emit import lower_to_c, write_c_library
    from ..ir.serialize import load_graph
    g = load_graph(out_dir / "graph.json", out_dir / "graph.npz")
    cm = lower_to_c(g, core.features, io_in_arena=io_in_arena, arena_budget=arena_budget, speed_first=speed_first)
    if lib_dir.exists():
        shutil.rmtree(lib_dir)
    write_c_library(cm, lib_dir, str(out_dir), core.name, g.meta.get("quant", "float32"))
    return lib_dir, cm.runtime_sources


def build_model_firmware(out_dir: Path, info: dict, board, opt: str = "-O2") -> Path:
    from ..codegen.c.emit import write_test_main
    build_dir = out_dir / "build" / board.name
    build_dir.mkdir(parents=True, exist_ok=True)
    prefix = info["prefix"]
    lib_dir, runtime_sources = out_dir, info["runtime_sources"]
    if board.core.name != info["target"]:
        lib_dir, runtime_sources = relower_for_core(out_dir, board.core, build_dir / "lib",
                                                    info.get("io_in_arena", False), info.get("arena_budget"),
                                                    info.get("speed_first", False))
    main = build_dir / "test_main.c"
    write_test_main(prefix, info["inputs"], info["outputs"], main)
    sources = [lib_dir / f"{prefix}.c", lib_dir / f"{prefix}_weights.c", main]
    sources += [lib_dir / "mcuforge_runtime" / "kernels" / s for s in runtime_sources]
    stack = STACK_RESERVE if board.is_host or board.ram_size > 64 * 1024 else 2048
    return build_firmware(board, sources, [lib_dir, lib_dir / "mcuforge_runtime" / "include"], build_dir,
                          opt=opt, stack_bytes=stack)


def run_on_board(out_dir: Path, info: dict, board_name: str, xs: list[np.ndarray], quiet=False, opt="-O2"):
    board = load_board(board_name)
    check_fits(info, board)
    elf = build_model_firmware(out_dir, info, board, opt)
    run_dir = elf.parent / "run"
    run_dir.mkdir(exist_ok=True)
    for old in run_dir.glob("output*.bin"):
        old.unlink()
    n = len(xs[0])
    (run_dir / "count.bin").write_bytes(struct.pack("<I", n))
    for i, arr in enumerate(xs):
        (run_dir / f"input{i}.bin").write_bytes(np.ascontiguousarray(arr).tobytes())
    res = run_firmware(board, elf, run_dir, timeout=max(120.0, 2.0 * n))
    if res.exit_code != 0:
        detail = (res.stdout + res.stderr).strip().splitlines()
        raise McuforgeError(f"firmware on {board.name} exited with code {res.exit_code}"
                            + (f": {detail[-1]}" if detail else ""))
    ys = []
    for i, io in enumerate(info["outputs"]):
        raw = (run_dir / f"output{i}.bin").read_bytes()
        y = np.frombuffer(raw, dtype=DTYPES[io["dtype"]])
        ys.append(y.reshape((n,) + tuple(io["shape"])))
    mem = elf_memory(elf)
    instr = res.instructions
    result = {
        "board": board.name,
        "instructions": int(np.median(instr)) if instr else None,
        "instructions_per_inference": instr or None,
        "flash_bytes": mem["flash_bytes"], "ram_bytes": mem["ram_bytes"],
        "arena_bytes": info["arena_bytes"], "stack_bytes": mem["stack_bytes"],
        "stack_used_bytes": res.stack_used,
        "macs": info["macs"],
    }
    if result["instructions"]:
        result["macs_per_instruction"] = info["macs"] / result["instructions"]
    return ys, result
