"""Command line: `mcuforge compile | simulate | report | hls | rtl`, a thin layer over mcuforge.api."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .errors import McuforgeError
from .quant.calibrate import METHODS


def _shapes(items: list[str] | None) -> dict | None:
    if not items:
        return None
    out = {}
    for item in items:
        if "=" not in item:
            raise McuforgeError(f"--input-shape takes NAME=D1,D2,..., got {item!r}")
        name, dims = item.split("=", 1)
        try:
            out[name] = tuple(int(d) for d in dims.split(","))
        except ValueError:
            raise McuforgeError(f"--input-shape {item!r}: dimensions must be integers") from None
    return out


def _weight_bits(value):
    return None if value is None else value if value == "mixed" else int(value)


def _mixed_options(args):
    """Budgets, labels and layer-wise calibration for --weight-bits mixed / 4 / 2."""
    import numpy as np

    from .quant.mixed import MixedOptions
    from .sample_files import load_array_file
    mixed_only = [flag for flag, v in (("--flash-budget", args.flash_budget), ("--instr-budget", args.instr_budget),
                                       ("--calib-data", args.calib_data)) if v is not None]
    if args.weight_bits != "mixed":
        if mixed_only:
            raise McuforgeError(f"{', '.join(mixed_only)} applies to --weight-bits mixed")
        if args.layer_calib is None:
            return None
        if args.weight_bits in (None, "8"):
            raise McuforgeError(f"--layer-calib {args.layer_calib} applies to low-bit weights: add --weight-bits "
                                f"4, 2 or mixed")
        return MixedOptions(layer_calib=args.layer_calib, ternary_method=args.ternary_method)
    for flag, v, unit in (("--flash-budget", args.flash_budget, "bytes"), ("--instr-budget", args.instr_budget,
                                                                          "instructions")):
        if v is not None and v <= 0:
            raise McuforgeError(f"{flag} must be a positive number of {unit}, not {v}")
    labels = None
    if args.calib_data:
        path = Path(args.calib_data)
        labels = load_array_file(path, "--calib-data")
        if not isinstance(labels, np.ndarray):
            raise McuforgeError(f"--calib-data {path}: expected a .npy array of class labels, not an .npz")
        if labels.dtype.kind not in "iu":
            raise McuforgeError(f"--calib-data {path}: expected integer class labels, got {labels.dtype}")
        if labels.ndim != 1:
            raise McuforgeError(f"--calib-data {path}: expected one class label per --calib sample (shape (N,)), "
                                f"got shape {labels.shape}")
    return MixedOptions(flash_budget=args.flash_budget, instr_budget=args.instr_budget, labels=labels,
                        layer_calib=args.layer_calib or "bias", ternary_method=args.ternary_method,
                        portable_kernels=args.portable_kernels)


def _inputs(args) -> list:
    """The files a command reads (the output folder must not hold them: it is replaced)."""
    return [getattr(args, k, None) for k in ("model", "calib", "calib_data", "auto_data", "auto_labels")]


def cmd_compile(args):
    from .api import compile_model, report
    from .outdir import check_output_dir
    check_output_dir(args.output, _inputs(args))
    if getattr(args, "train", False):
        from .cli_train import compile_train
        compile_train(args)
        return
    compile_model(args.model, args.output, target=args.target, quant=args.quant, calib=args.calib,
                  calib_method=args.calib_method, input_shapes=_shapes(args.input_shape), name=args.name,
                  portable_kernels=args.portable_kernels, io_in_arena=args.io_in_arena,
                  arena_budget=args.arena_budget, min_arena=args.min_arena,
                  weight_bits=_weight_bits(args.weight_bits), ternary_method=args.ternary_method, patch=args.patch,
                  max_patch_overhead=args.patch_overhead, speed_first=args.speed_first, requant=args.requant,
                  mixed=_mixed_options(args), quantmcu=_quantmcu_options(args))
    if not args.no_report:
        print(report(args.output))


def _quantmcu_options(args):
    if not getattr(args, "quantmcu", False):
        return None
    from .schedule.quantmcu import QuantMCUOptions
    return QuantMCUOptions(target=args.quantmcu_target, outlier_fraction=args.quantmcu_outliers)


def cmd_simulate(args):
    import numpy as np

    from .api import simulate
    if args.train:
        from .cli_train import cmd_simulate_train
        return cmd_simulate_train(args)
    x = None
    for what, dest in (("--output", args.output), ("--json", args.json)):
        if dest and not Path(dest).resolve().parent.is_dir():
            raise McuforgeError(f"{what} {dest}: folder {Path(dest).resolve().parent} does not exist")
        if dest and Path(dest).is_dir():
            raise McuforgeError(f"{what} {dest} is a folder; give a file name")
    if args.input:
        path = Path(args.input)
        if not path.is_file():
            raise McuforgeError(f"input file not found: {path}")
        try:
            loaded = np.load(path, allow_pickle=False)
            x = [loaded[k] for k in loaded.files] if hasattr(loaded, "files") else loaded
        except Exception as e:  # noqa: BLE001 - numpy raises ValueError, OSError, EOFError, BadZipFile...
            raise McuforgeError(f"cannot read input samples {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__} "
                                f"(expected a .npy array or an .npz of arrays)") from None
    y, info = simulate(args.outdir, board=args.board, x=x)
    if args.output:
        if isinstance(y, list):
            np.savez(args.output, *y)
        else:
            np.save(args.output, y)
    if args.json:
        Path(args.json).write_text(json.dumps(info, indent=1, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    # per-inference lists and raw arrays go to --json / --output, not the terminal
    shown = {k: v for k, v in info.items() if k not in ("instructions_per_inference", "raw_output")}
    for k, v in shown.items():
        print(f"{k:>22}: {v}")


def cmd_report(args):
    from .api import read_info, report
    print(report(args.outdir))
    info = read_info(args.outdir)
    md = Path(args.outdir) / "report.md"
    if md.is_file():
        print(f"\nMarkdown report: {md}" + (f", arena plot: {Path(args.outdir) / 'arena.png'}"
                                          if (Path(args.outdir) / "arena.png").is_file() else ""))
    return info


class Parser(argparse.ArgumentParser):
    """Usage errors in one line, what is wrong and where the usage is (subcommands inherit it)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from .targets import list_boards, list_cores
    p = Parser(prog="mcuforge", description="Compile neural networks for microcontrollers and FPGAs.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("compile", help="compile an ONNX or .tflite model to a C library",
                       description="Compile an ONNX or .tflite model to a dependency-free C library.")
    c.add_argument("model", help="model file (.onnx or .tflite)")
    c.add_argument("-o", "--output", required=True, help="output folder (replaced if it exists)")
    c.add_argument("--target", default="cortex-m4", choices=list_cores(), help="core to generate code for")
    c.add_argument("--quant", default="int8", choices=["int8", "float32", "fixed"],
                   help="numeric scheme (fixed: power-of-two scales, shift requantization, bit-exact with "
                   "mcuforge hls/rtl; QONNX / QFX models carry their own types)")
    c.add_argument("--calib", help="calibration samples (.npy with the batch on axis 0, or .npz per input)")
    c.add_argument("--calib-method", default="minmax", choices=list(METHODS),
                   help="how activation ranges are chosen from the calibration histograms")
    c.add_argument("--input-shape", action="append", metavar="NAME=D1,D2,...",
                   help="fixed shape for an input with dynamic dimensions (repeatable)")
    c.add_argument("--name", help="model name used for C identifiers (default: file name)")
    c.add_argument("--portable-kernels", action="store_true", help="use only the portable reference kernels")
    c.add_argument("--no-report", action="store_true", help="do not print the per-layer report")
    c.add_argument("--io-in-arena", action=argparse.BooleanOptionalAction, default=None,
                   help="plan the input and output inside the arena and add the zero-copy API "
                        "<prefix>_input/_invoke/_output (default: on for int8 models)")
    c.add_argument("--arena-budget", type=int, metavar="BYTES",
                   help="while the arena is larger, layers whose kernel scratch sets its peak use a leaner, slower kernel")
    c.add_argument("--min-arena", action="store_true", help="the smallest arena this gets (--arena-budget 0)")
    c.add_argument("--speed-first", action="store_true",
                   help="the fastest kernel on every layer, whatever its scratch costs in arena (default without "
                        "--arena-budget: kernels at the arena's peak chosen by the smallest arena x instructions)")
    c.add_argument("--weight-bits", choices=["8", "4", "2", "mixed"], default=None,
                   help="weight width of every conv / fully connected layer: 8, 4 (int4, two per byte) "
                        "or 2 (ternary {-1, 0, 1}, four per byte); activations stay int8. mixed: each layer's "
                        "width from its Hessian sensitivity by integer programming under --flash-budget / --instr-budget")
    c.add_argument("--flash-budget", type=int, metavar="BYTES",
                   help="with --weight-bits mixed: bytes of constants (weights, biases, multipliers) allowed")
    c.add_argument("--instr-budget", type=int, metavar="N",
                   help="with --weight-bits mixed: executed instructions per inference allowed on the target's "
                        "QEMU board (per-kernel models in targets/instr_models, one QEMU run of the 8-bit model); "
                        "without a memory flag every layer then runs its fastest kernel, as priced")
    c.add_argument("--calib-data", metavar="Y.npy",
                   help="with --weight-bits mixed: integer class labels of the --calib samples for the Hessian's "
                        "loss (default: the float model's own predictions)")
    c.add_argument("--layer-calib", choices=["none", "bias", "adaquant"], default=None,
                   help="layer-wise calibration of low-bit weights: bias correction (default with mixed), "
                        "AdaQuant (weights, scales and biases fitted to the float layer outputs), or none")
    c.add_argument("--ternary-method", default="absmean", choices=["absmean", "median"],
                   help="per-channel scale of ternary weights: mean |w| (BitNet b1.58) or median |w|")
    c.add_argument("--patch", default=None, metavar="auto|off|NxM@NODE",
                   help="run the first layers patch by patch (MCUNetV2): auto chooses the split layer and "
                        "grid (kept only if the arena shrinks; with --arena-budget the fewest MACs that fit), "
                        "or e.g. 3x2@conv_2d_4 for 3 rows x 2 columns of patches ending at that node")
    c.add_argument("--patch-overhead", type=float, default=None, metavar="FRACTION",
                   help="largest MAC overhead --patch auto accepts for recomputed halos (default 0.25)")
    c.add_argument("--quantmcu", action="store_true",
                   help="QuantMCU on the patch stage (needs --calib; --patch defaults to auto): each patch checks "
                        "for outliers at run time and runs its branch at 8 bits if it has any, else at the 8/4/2-bit "
                        "activation widths chosen per feature map by an entropy proxy against BitOPs")
    c.add_argument("--quantmcu-target", type=float, default=0.5, metavar="FRACTION",
                   help="--quantmcu: lower widths until the patch stage's expected BitOPs are this fraction "
                        "of 8-bit patches' (default 0.5)")
    c.add_argument("--quantmcu-outliers", type=float, default=0.1, metavar="FRACTION",
                   help="--quantmcu: share of calibration patches per branch whose maximum counts as an "
                        "outlier (sets each branch's threshold; default 0.1)")
    c.add_argument("--requant", default=None, choices=["double", "single", "ort"],
                   help="int8 requantization rounding. Default: single (one rounding of the exact product, "
                        "as onnxruntime's QDQ models compute; every kernel variant, no slower) for models "
                        "quantized here (ONNX, QDQ, QONNX); double (TFLite's) for .tflite models, always; "
                        "ort: single plus onnxruntime's float32 add / sub / bilinear resize (portable kernels)")
    from .cli_train import add_train_args
    add_train_args(c)
    c.set_defaults(func=cmd_compile)

    s = sub.add_parser("simulate", help="run a compiled model on an emulated board, the host, or the golden model",
                       description="Build the compiled model for a board and run it; prints instructions, flash and RAM.")
    s.add_argument("outdir", help="folder written by `mcuforge compile` (or `hls` / `rtl`)")
    s.add_argument("--board", default="mps2-an386",
                   help=f"one of: reference, {', '.join(list_boards())} (FPGA folders: csim, verilator, reference)")
    s.add_argument("--input", help="X.npy: samples with the batch on axis 0 (float32 is quantized, int8 fed as is)")
    s.add_argument("--output", help="Y.npy: raw outputs with the batch on axis 0")
    s.add_argument("--json", help="write the measurements (instructions, flash_bytes, ram_bytes, ...) as JSON")
    from .cli_train import add_simulate_args
    add_simulate_args(s)
    s.set_defaults(func=cmd_simulate)

    r = sub.add_parser("report", help="print the per-layer report of a compiled model",
                       description="Print the per-layer table (op, shapes, MACs, weights, arena, ranges).")
    r.add_argument("outdir")
    r.set_defaults(func=cmd_report)

    try:
        from . import cli_fpga
    except ImportError:
        cli_fpga = None
    if cli_fpga is not None:
        cli_fpga.add_parsers(sub)
    from . import cli_tune
    cli_tune.add_parsers(sub)
    return p


class Terminated(BaseException):
    """SIGTERM, raised as an exception so that staging folders are cleaned up on the way out."""


def _on_sigterm(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    import signal
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (embedded use): keep the default
        pass
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        args.func(args)
        return 0
    except McuforgeError as e:
        print(f"mcuforge: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mcuforge: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("mcuforge: terminated", file=sys.stderr)
        return 143
    except Exception as e:  # a bug of ours: still one line, the traceback on request
        if os.environ.get("MCUFORGE_DEBUG"):
            raise
        print(f"mcuforge: internal error: {type(e).__name__}: {e} (set MCUFORGE_DEBUG=1 for a traceback)",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
