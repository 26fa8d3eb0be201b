"""CLI wiring of training graphs: `mcuforge compile MODEL --train [--update auto|SPEC]
[--sram-budget BYTES] [--calib X.npy]` (cli.py calls add_train_args and, with --train,
compile_train) and `mcuforge simulate OUT --board B --train X.npy --labels Y.npy --epochs N
[--eval Xv.npy --eval-labels Yv.npy] [--json R.json]` (add_simulate_args, cmd_simulate_train).
The graph comes from mcuforge.train (TVM, imported only there); the C training library from
codegen/c/train.py through api_train.compile_training."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .errors import McuforgeError


def add_train_args(c: argparse.ArgumentParser):
    t = c.add_argument_group("training (on-device sparse-update training step, needs mcuforge[train])")
    t.add_argument("--train", action="store_true",
                   help="emit a training step mcf_<name>_train_step beside _invoke (docs/training.md)")
    t.add_argument("--update", default="auto", metavar="auto|SPEC",
                   help="what trains: 'auto' (searched under --sram-budget from --auto-data/--auto-labels) or a "
                        "spec such as 'bias:last4,weight:conv7@1/4,weight:fc0' (default: auto)")
    t.add_argument("--sram-budget", type=int, metavar="BYTES",
                   help="training SRAM (arena + trained state) the scheme must fit; refused naming the bytes")
    t.add_argument("--loss", default="xent", choices=["xent", "mse"], help="softmax cross-entropy or MSE")
    t.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (default 0.01)")
    t.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9; 0: no state)")
    t.add_argument("--no-qas", action="store_true", help="int8: no quantization-aware scaling of the gradients")
    t.add_argument("--no-master", action="store_true",
                   help="int8: keep trained weights in int8 only (no float32 master copy; 4 B less per weight)")
    t.add_argument("--auto-data", metavar="X.npy", help="--update auto: labelled samples to rank tensors on")
    t.add_argument("--auto-labels", metavar="Y.npy", help="--update auto: their integer labels")


def compile_train(args, quiet: bool = False):
    from .cli import _shapes
    log = None if quiet else (lambda m: print(m, flush=True))
    if getattr(args, "requant", None) == "single":
        raise McuforgeError("--requant single applies to inference builds; the int8 training step keeps "
                            "TFLite's double rounding in its forward and backward kernels")
    if args.update == "auto" and args.auto_data is None:
        raise McuforgeError("--update auto needs --auto-data X.npy --auto-labels Y.npy (labelled samples "
                            "to rank the tensors on), or give --update SPEC")
    from .api_train import compile_training, training_report
    info = compile_training(args.model, args.output, target=args.target, quant=args.quant, calib=args.calib,
                            update=args.update, loss=args.loss, sram_budget=args.sram_budget, lr=args.lr,
                            momentum=args.momentum, qas=not args.no_qas, master=not args.no_master,
                            name=args.name, quiet=quiet, input_shapes=_shapes(args.input_shape),
                            auto_options={"data": args.auto_data, "labels": args.auto_labels, "log": log})
    if not quiet and not getattr(args, "no_report", False):
        print(training_report(info))
    return info


def add_simulate_args(s: argparse.ArgumentParser):
    t = s.add_argument_group("on-device training (a folder compiled with --train)")
    t.add_argument("--train", metavar="X.npy", help="training samples, the model's own layout, batch on axis 0")
    t.add_argument("--labels", metavar="Y.npy", help="integer class labels (MSE: targets) of the samples")
    t.add_argument("--epochs", type=int, default=1, help="passes over the training samples")
    t.add_argument("--eval", metavar="XV.npy", help="held-out samples, evaluated before training and after every epoch")
    t.add_argument("--eval-labels", metavar="YV.npy", help="their labels")


def _load(path, what):
    import numpy as np
    if path is None:
        return None
    p = Path(path)
    if not p.is_file():
        raise McuforgeError(f"{what} file not found: {p}")
    try:
        return np.load(p, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - numpy raises many kinds
        raise McuforgeError(f"cannot read {what} {p}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") \
            from None


def cmd_simulate_train(args):
    from .api_train import simulate_training
    if args.labels is None:
        raise McuforgeError("--train needs --labels")
    if args.json and Path(args.json).is_dir():
        raise McuforgeError(f"--json {args.json} is a folder; give a file name")
    x, y = _load(args.train, "training samples"), _load(args.labels, "labels")
    xv, yv = _load(args.eval, "eval samples"), _load(args.eval_labels, "eval labels")
    if (xv is None) != (yv is None):
        raise McuforgeError("--eval and --eval-labels go together")
    rep = simulate_training(args.outdir, args.board, x, y, args.epochs, xv, yv, args.json)
    for k in ("board", "arena_bytes", "state_bytes", "stack_bytes", "ram_bytes", "flash_bytes",
              "instructions_per_step"):
        print(f"{k:>22}: {rep.get(k)}")
    if rep.get("loss_curve"):
        print(f"{'loss_curve':>22}: {rep['loss_curve']}")
    return json.dumps(rep["epochs"])
