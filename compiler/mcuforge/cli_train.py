"""The training options of `mcuforge compile` and `mcuforge simulate` (issue 11):

    mcuforge compile MODEL --train [--update auto|SPEC] [--sram-budget BYTES] --calib X.npy -o OUT
    mcuforge simulate OUT --board host|mps2-an386|... --train X.npy --labels Y.npy --epochs N
                      [--eval Xv.npy --eval-labels Yv.npy] [--json R.json]
"""
from __future__ import annotations

import json
from pathlib import Path

from .errors import McuforgeError


def add_compile_args(c):
    t = c.add_argument_group("on-device training (docs/training.md)")
    t.add_argument("--train", action="store_true",
                   help="compile a training step (forward, loss, sparse backward, SGD) instead of inference")
    t.add_argument("--update", default="auto", metavar="auto|SPEC",
                   help="what trains: e.g. 'bias:last2,weight:conv3@1/4,weight:fc0', 'all', or auto")
    t.add_argument("--sram-budget", type=int, metavar="BYTES", help="refuse a training step needing more SRAM")
    t.add_argument("--loss", default="xent", choices=["xent", "mse"], help="training loss")
    t.add_argument("--lr", type=float, default=0.01, help="SGD learning rate")
    t.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (0: none, no momentum state)")
    t.add_argument("--no-qas", action="store_true", help="int8: no quantization-aware scaling of gradients")
    t.add_argument("--no-full-backprop", action="store_true",
                   help="do not build the full-backpropagation graph the report compares with")


def add_simulate_args(s):
    t = s.add_argument_group("on-device training (for a folder compiled with --train)")
    t.add_argument("--train", metavar="X.npy", help="training samples, the model's own layout, batch on axis 0")
    t.add_argument("--labels", metavar="Y.npy", help="integer class labels (MSE: targets) of the samples")
    t.add_argument("--epochs", type=int, default=1, help="passes over the training samples")
    t.add_argument("--eval", metavar="XV.npy", help="held-out samples, evaluated after every epoch")
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


def cmd_compile_train(args):
    from .api_train import compile_training, training_report
    info = compile_training(args.model, args.output, target=args.target, quant=args.quant, calib=args.calib,
                            update=args.update, loss=args.loss, sram_budget=args.sram_budget, lr=args.lr,
                            momentum=args.momentum, qas=not args.no_qas, full_backprop=not args.no_full_backprop,
                            name=args.name, input_shapes=None)
    if not args.no_report:
        print(training_report(info))


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
