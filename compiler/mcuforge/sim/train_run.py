"""Runs a compiled training library (codegen/c/train.py) on a board: the generated training loop
(templates/c/train_main.c.j2) streams the samples in from files, trains for some epochs and
prints one line per epoch, which is shown as progress while the board runs; the losses, the
accuracies, the memory figures of the linked ELF and a loss-curve plot come back.

    report = train_on_board(out_dir, "mps2-an386", x, y, epochs=3, x_eval=xv, y_eval=yv)
"""
from __future__ import annotations

import json
import re
import struct
import subprocess
import time
from pathlib import Path

import numpy as np

from ..errors import McuforgeError
from ..codegen.jinja import render as render_template
from ..targets import load_board
from .build import build_firmware, elf_memory
from .qemu import FAULT_EXIT_CODE, qemu_command

_EPOCH = re.compile(r"^MCF_EPOCH (\d+) (\d+) (\d+) (\d+)\s*$")
_BEFORE = re.compile(r"^MCF_EVAL_BEFORE (\d+)\s*$")
_MARK = re.compile(r"^MCF_INSTRUCTIONS (\d+) (\S+)\s*$")
_STACK = re.compile(r"^MCF_STACK_USED (\d+)\s*$")
STACK_BYTES = 16 * 1024
SMALL_STACK_BYTES = 4 * 1024


def read_train_info(out_dir) -> dict:
    p = Path(out_dir) / "model.json"
    if not p.is_file():
        raise McuforgeError(f"{out_dir} is not an mcuforge output folder (no model.json)")
    info = json.loads(p.read_text())
    if not info.get("train"):
        raise McuforgeError(f"{out_dir} holds an inference library; compile the model with --train "
                            "to simulate training")
    return info


def device_samples(info: dict, x) -> np.ndarray:
    """Samples in the model's own layout (float, or int8 for int8 models) -> the device's bytes."""
    from ..api import to_device_inputs
    io = dict(info["x"])
    io.setdefault("perm", [])
    return to_device_inputs({"inputs": [io]}, x)[0]


def device_labels(info: dict, y, n: int, what: str) -> np.ndarray:
    y = np.asarray(y)
    if info["loss"] == "xent":
        if y.dtype.kind not in "iu" or y.reshape(-1).size != n:
            raise McuforgeError(f"{what}: expected {n} integer class labels, got {y.dtype} of shape {y.shape}")
        y = y.reshape(-1)
        classes = info.get("classes") or 0
        if classes and (y.min() < 0 or y.max() >= classes):
            raise McuforgeError(f"{what}: labels must lie in 0..{classes - 1}, got {y.min()}..{y.max()}")
        return y.astype(np.int32)
    y = np.asarray(y, np.float32).reshape(n, -1)
    if y.shape[1] != info["x"]["label_size"]:
        raise McuforgeError(f"{what}: targets of {y.shape[1]} values, the model's output has "
                            f"{info['x']['label_size']}")
    return y


def build_training_firmware(out_dir: Path, info: dict, board, opt: str = "-O2") -> Path:
    out_dir = Path(out_dir)
    build_dir = out_dir / "build" / f"train-{board.name}"
    build_dir.mkdir(parents=True, exist_ok=True)
    prefix = info["prefix"]
    main = build_dir / "train_main.c"
    main.write_text(render_template("c/train_main.c.j2", prefix=prefix, x=info["x"], quant=info["quant"],
                                    loss_kind=info["loss"], logits=info.get("classes") is not None))
    rt = out_dir / "mcuforge_runtime"
    sources = [out_dir / f"{prefix}.c", out_dir / f"{prefix}_weights.c", main]
    sources += [rt / "kernels" / s for s in info["runtime_sources"]]
    stack = STACK_BYTES if board.is_host or board.ram_size > 64 * 1024 else SMALL_STACK_BYTES
    return build_firmware(board, sources, [out_dir, rt / "include"], build_dir, opt=opt, stack_bytes=stack,
                          name="train", extra_cflags=list(info.get("cflags", [])))


def _plot(path: Path, epochs: list[dict], step_losses: np.ndarray, title: str, before: float | None = None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    n = len(step_losses)
    per_epoch = n // max(1, len(epochs))
    if n:
        steps = np.arange(1, n + 1) / max(1, per_epoch)
        ax.plot(steps, step_losses, color="#9ab", lw=0.6, label="per step")
    ax.plot(np.arange(1, len(epochs) + 1), [e["loss"] for e in epochs], "o-", color="#c33", label="epoch mean")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax2 = ax.twinx()
    acc = [e["eval_accuracy"] if e["eval_accuracy"] is not None else e["train_accuracy"] for e in epochs]
    if any(a is not None for a in acc):
        xs = list(range(1, len(epochs) + 1))
        if before is not None:          # the untrained model's held-out accuracy at epoch 0
            xs, acc = [0] + xs, [before] + acc
        ax2.plot(xs, acc, "s--", color="#36a", label="accuracy")
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("accuracy (eval, else train)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def train_on_board(out_dir, board_name: str, x, y, epochs: int = 1, x_eval=None, y_eval=None,
                   json_path=None, quiet: bool = False, opt: str = "-O2", plot: bool = True,
                   timeout: float | None = None) -> dict:
    """Train the compiled model on `board_name` (host or a QEMU board); returns the report dict
    (also written to json_path) with "epochs": [{"loss", "train_accuracy", "eval_accuracy"}],
    "step_losses" and the memory fields of an inference run."""
    out_dir = Path(out_dir)
    info = read_train_info(out_dir)
    board = load_board(board_name)
    if epochs < 1:
        raise McuforgeError(f"epochs must be at least 1, got {epochs}")
    xs = device_samples(info, x)
    ys = device_labels(info, y, len(xs), "training labels")
    has_eval = x_eval is not None
    if has_eval and y_eval is None:
        raise McuforgeError("--eval needs --eval-labels")
    xe = device_samples(info, x_eval) if has_eval else xs[:0]
    ye = device_labels(info, y_eval, len(xe), "eval labels") if has_eval else ys[:0]
    if info["loss"] != "xent":
        xe, ye = xs[:0], ys[:0]
    elf = build_training_firmware(out_dir, info, board, opt)
    run_dir = elf.parent / "run"
    run_dir.mkdir(exist_ok=True)
    for old in run_dir.glob("*.bin"):
        old.unlink()
    (run_dir / "train_cfg.bin").write_bytes(struct.pack("<III", len(xs), len(xe), epochs))
    (run_dir / "train_x.bin").write_bytes(xs.tobytes())
    (run_dir / "train_y.bin").write_bytes(np.ascontiguousarray(ys).tobytes())
    (run_dir / "eval_x.bin").write_bytes(xe.tobytes())
    (run_dir / "eval_y.bin").write_bytes(np.ascontiguousarray(ye).tobytes())
    cmd = [str(elf.resolve())] if board.is_host else qemu_command(board, elf)
    epochs_out, marks, stack_used, lines, before = [], {}, None, [], None
    t0 = time.time()
    proc = subprocess.Popen(cmd, cwd=str(run_dir), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace")
    try:
        for line in proc.stdout:
            lines.append(line)
            m = _EPOCH.match(line)
            if m:
                e, loss_q, corr, ecorr = (int(v) for v in m.groups())
                rec = {"epoch": e + 1, "loss": loss_q / 65536.0 / len(xs),
                       "train_accuracy": corr / len(xs) if info.get("classes") else None,
                       "eval_accuracy": ecorr / len(xe) if len(xe) else None}
                epochs_out.append(rec)
                if not quiet:
                    ev = f", eval accuracy {rec['eval_accuracy']:.3f}" if rec["eval_accuracy"] is not None else ""
                    tr = f", train accuracy {rec['train_accuracy']:.3f}" if rec["train_accuracy"] is not None else ""
                    print(f"[{board.name}] epoch {e + 1}/{epochs}: loss {rec['loss']:.4f}{tr}{ev} "
                          f"({time.time() - t0:.1f} s)", flush=True)
                continue
            m = _BEFORE.match(line)
            if m and len(xe):
                before = int(m.group(1)) / len(xe)
                if not quiet:
                    print(f"[{board.name}] before training: eval accuracy {before:.3f}", flush=True)
                continue
            m = _MARK.match(line)
            if m:
                marks.setdefault(m.group(2), int(m.group(1)))
            m = _STACK.match(line)
            if m:
                stack_used = int(m.group(1))
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        raise McuforgeError(f"training on {board.name} did not finish within {timeout:g} s") from exc
    err = proc.stderr.read()
    if proc.returncode != 0:
        tail = next((ln for ln in lines if ln.startswith("MCF_FAULT")), "") or "".join(lines[-1:]) or err
        what = "faulted" if proc.returncode == FAULT_EXIT_CODE else f"exited with code {proc.returncode}"
        raise McuforgeError(f"training firmware on {board.name} {what}: {tail.strip()}")
    step_losses = np.fromfile(run_dir / "losses.bin", dtype=np.float32)
    mem = elf_memory(elf)
    report = {
        "board": board.name, "quant": info["quant"], "samples": len(xs), "eval_samples": len(xe),
        "eval_before": before, "epochs": epochs_out, "step_losses": step_losses.tolist(),
        "arena_bytes": info["arena_bytes"], "state_bytes": info["state_bytes"],
        "stack_bytes": mem["stack_bytes"], "stack_used_bytes": stack_used,
        "ram_bytes": mem["ram_bytes"], "flash_bytes": mem["flash_bytes"],
        "static_ram_bytes": mem["static_ram_bytes"],
        "training_sram": info.get("training_sram"), "full_backprop_sram": info.get("full_backprop_sram"),
        "instructions_per_step": marks.get("train_step"), "instructions_per_predict": marks.get("predict"),
        "macs_per_step": info.get("macs"),
    }
    if report["stack_bytes"] is not None:
        report["sram_bytes"] = info["arena_bytes"] + info["state_bytes"] + report["stack_bytes"]
    if plot and epochs_out:
        _plot(out_dir / "loss_curve.png", epochs_out, step_losses,
              f"{info['name']} on {board.name} ({info['quant']}, {len(xs)} samples/epoch)", before)
        report["loss_curve"] = str(out_dir / "loss_curve.png")
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=1))
    return report
