"""CLI wiring of the quantization search: `mcuforge tune` (cli.py calls add_parsers)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import McuforgeError


def _load_npy(path, what):
    import numpy as np
    p = Path(path)
    if not p.is_file():
        raise McuforgeError(f"{what} file not found: {p}")
    try:
        return np.load(p, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise McuforgeError(f"cannot read {what} {p}: {e}") from None


def _range(text):
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise McuforgeError(f"--input-range takes LO,HI, got {text!r}") from None
    return lo, hi


def _widths(text):
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise McuforgeError(f"--weight-bits takes widths like 8,4,2, got {text!r}") from None


def tune(model, out, x, y, calib=None, trials: int = 40, tuner: str = "quantune", objective: str = "acc",
         flash_budget: int | None = None, ray_address: str | None = None, workers: int | None = None,
         use_ray: bool = True, batch: int = 4, zeroq: bool = False, input_range=None, measure: str = "compile",
         target: str = "cortex-m4", seed: int = 0, progress: bool = True, weight_bits: tuple = ()):
    """The API behind `mcuforge tune`; returns the SearchResult. Writes into `out`: trials.jsonl
    (the results file a rerun resumes from), trials.csv, pareto.png, best.json and lib/ (the
    library compiled with the best configuration). weight_bits (e.g. (8, 4, 2)) adds the widths of
    the first, middle and last weight layers to the space."""
    import numpy as np

    from .search.evaluate import Evaluator
    from .search.report import plot_pareto, write_table
    from .search.runner import SerialBackend, run_search
    from .search.space import default_space
    from .search.tuners import make_tuner
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    x, y = np.asarray(x, np.float32), np.asarray(y).reshape(-1)
    if len(x) != len(y):
        raise McuforgeError(f"{len(x)} samples but {len(y)} labels")
    if calib is None:
        n = min(256, len(x) // 2)
        if n < 1:
            raise McuforgeError("too few samples: pass --calib or more --data")
        calib, x, y = x[:n], x[n:], y[n:]
        print(f"[tune] calibration: the first {n} samples of --data; accuracy: the other {len(x)}", file=sys.stderr)
    distilled = None
    if zeroq:
        from .search.zeroq import distill
        if not str(model).lower().endswith(".onnx"):
            raise McuforgeError("ZeroQ needs the float ONNX model with its BatchNormalization nodes")
        if (out / "distilled.npy").is_file():   # a resumed search reuses the data it distilled
            distilled = np.load(out / "distilled.npy")
        else:
            distilled, info = distill(model, n=64, seed=seed, input_range=input_range, quiet=not progress)
            np.save(out / "distilled.npy", distilled)
    ev = Evaluator(model, x, y, calib, distilled=distilled, target=target, measure=measure)
    n_real = len(ev.samples["real"])
    space = default_space(objective, distilled=zeroq, n_calib=tuple(sorted({min(32, n_real), n_real})),
                          weight_bits=tuple(weight_bits))
    kw = {}
    if tuner == "quantune":
        # the model's profile: Quantune's features of (model, configuration), computed once here
        from .search.quantune import ModelProfile
        kw["model_features"] = ModelProfile(ev, flash_budget=flash_budget)
    t = make_tuner(tuner, space, seed, **kw)
    backend = None
    if use_ray or ray_address:
        try:
            from .search.ray_runner import RayBackend
            backend = RayBackend(ev.warm(space), workers, ray_address)
            print(f"[tune] evaluating on Ray with {backend.workers} workers", file=sys.stderr)
        except McuforgeError:
            if ray_address:
                raise
            print("[tune] ray is not installed: evaluating in this process", file=sys.stderr)
    backend = backend or SerialBackend(ev)
    # the int8 rounding the accuracies were measured with: results of another one are not reused
    header = {"model": Path(str(model)).name, "samples": int(len(x)), "calib": int(n_real), "measure": measure,
              "target": target, "requant": ev.requant}
    try:
        res = run_search(ev, space, t, trials, out / "trials.jsonl", backend, batch, objective, flash_budget,
                         progress, header)
    finally:
        backend.close()
    write_table(res, out / "trials.csv")
    plot_pareto(res, out / "pareto.png", f"{Path(str(model)).name}: {len(res.trials)} trials ({tuner})")
    ev.compile_best(res.best.config, out / "lib")
    (out / "best.json").write_text(json.dumps({"config": res.best.config, "result": res.best.result,
                                               "trial": res.best.trial, "evaluated": res.evaluated,
                                               "seconds": round(res.seconds, 1)}, indent=1))
    return res


def cmd_tune(args):
    x = _load_npy(args.data, "--data")
    y = _load_npy(args.labels, "--labels")
    calib = _load_npy(args.calib, "--calib") if args.calib else None
    res = tune(args.model, args.output, x, y, calib, trials=args.trials, tuner=args.tuner,
               objective=args.objective, flash_budget=args.flash_budget, ray_address=args.ray_address,
               workers=args.workers, use_ray=not args.no_ray, batch=args.batch, zeroq=args.zeroq,
               input_range=_range(args.input_range) if args.input_range else None, measure=args.measure,
               target=args.target, seed=args.seed, weight_bits=_widths(args.weight_bits) if args.weight_bits else ())
    b = res.best
    cost = ", ".join(f"{k} {b.result[k]}" for k in ("weights_bytes", "arena_bytes", "flash_bytes", "instructions")
                     if k in b.result)
    print(f"best of {len(res.trials)} trials (trial {b.trial}): accuracy {b.result['accuracy']:.4f}, {cost}")
    print("  " + ", ".join(f"{k}={v}" for k, v in b.config.items()))
    print(f"wrote {args.output}/lib (compiled), trials.csv, pareto.png, best.json; "
          f"{res.evaluated} evaluated now, {len(res.trials) - res.evaluated} from trials.jsonl")


def add_parsers(subparsers):
    from .targets import list_cores
    t = subparsers.add_parser(
        "tune", help="search quantization configurations (Quantune, ZeroQ, Ray) and compile the best",
        description="Search calibration method, clipping, weight granularity, activation scheme, calibration "
        "data and kernels for the most accurate int8 build (golden model on your labelled data), then compile "
        "it. Rerun the same command to resume an interrupted search from OUT/trials.jsonl.")
    t.add_argument("model", help="float model (.onnx or .tflite)")
    t.add_argument("--data", required=True, help="X.npy: samples, batch on axis 0, in the model's layout")
    t.add_argument("--labels", required=True, help="Y.npy: integer class labels, one per sample")
    t.add_argument("--calib", help="calibration samples (default: the first 256 of --data, the rest evaluates)")
    t.add_argument("-o", "--output", required=True, help="output folder (kept: a rerun resumes)")
    t.add_argument("--trials", type=int, default=40, help="evaluation budget")
    t.add_argument("--tuner", default="quantune", choices=["quantune", "random", "grid", "genetic"])
    t.add_argument("--objective", default="acc", choices=["acc", "pareto"],
                   help="acc: accuracy alone; pareto: also search kernel choices and plot accuracy against cost")
    t.add_argument("--flash-budget", type=int, metavar="BYTES", help="configurations over it lose")
    t.add_argument("--ray-address", help="address of a running Ray cluster (default: a local Ray on every core)")
    t.add_argument("--workers", type=int, help="Ray workers (default: every CPU Ray sees)")
    t.add_argument("--no-ray", action="store_true", help="evaluate in this process")
    t.add_argument("--batch", type=int, default=4,
                   help="configurations proposed at a time (fixes the result, whatever the worker count)")
    t.add_argument("--zeroq", action="store_true", help="add ZeroQ's distilled calibration data to the space")
    t.add_argument("--input-range", metavar="LO,HI", help="ZeroQ: clamp distilled inputs to this range")
    t.add_argument("--measure", default="compile", choices=["compile", "qemu"],
                   help="cost from the compile (weights, arena) or also from QEMU (instructions, ELF flash)")
    t.add_argument("--target", default="cortex-m4", choices=list_cores())
    t.add_argument("--weight-bits", metavar="W,W,...",
                   help="weight widths to search (8, 4, 2 = ternary) for the first, middle and last weight layers, "
                   "e.g. 8,4,2; pair it with --flash-budget")
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(func=cmd_tune)
