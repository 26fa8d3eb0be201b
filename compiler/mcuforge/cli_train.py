"""CLI wiring of training graphs: `mcuforge compile MODEL --train [--update auto|SPEC]
[--sram-budget BYTES] [--calib X.npy]` (cli.py calls add_train_args and, with --train,
compile_train). The graph comes from mcuforge.train (TVM, imported only here); the C training
library from wt-traincode's emit_training_library."""
from __future__ import annotations

import argparse

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
    from .train import build_training_graph
    log = None if quiet else (lambda m: print(m, flush=True))
    if args.update == "auto" and args.auto_data is None:
        raise McuforgeError("--update auto needs --auto-data X.npy --auto-labels Y.npy (labelled samples "
                            "to rank the tensors on), or give --update SPEC")
    if not quiet:
        print(f"building the training graph ({args.quant}, update {args.update})", flush=True)
    g = build_training_graph(args.model, update=args.update, quant=args.quant, calib=args.calib, loss=args.loss,
                             sram_budget=args.sram_budget, lr=args.lr, momentum=args.momentum, qas=not args.no_qas,
                             master=not args.no_master, input_shapes=_shapes(args.input_shape),
                             auto_options={"data": args.auto_data, "labels": args.auto_labels, "log": log})
    if not quiet:
        from .train.memory import training_sram
        m = training_sram(g)
        print(f"training scheme: {g.meta['train']['update_spec']}; SRAM {m['total']} B "
              f"(arena {m['arena']}, state {sum(m['state'].values())})", flush=True)
    # ---- wt-traincode hooks its C emitter here -------------------------------------------------
    try:
        from .codegen.c.train import emit_training_library
    except ImportError:
        raise McuforgeError("training codegen not built yet") from None
    emit_training_library(g, args.output, target=args.target, name=args.name, quiet=quiet)
    # --------------------------------------------------------------------------------------------
    return g
