"""CLI wiring of the FPGA backends: `mcuforge hls` and `mcuforge rtl` (cli.py calls add_parsers;
`simulate` reaches sim/fpga.py through api.simulate when model.json says hls or rtl)."""
from __future__ import annotations

import argparse


def _common(p: argparse.ArgumentParser):
    p.add_argument("model", help="model file (.onnx or .tflite)")
    p.add_argument("-o", "--output", required=True, help="output folder (replaced if it exists)")
    p.add_argument("--calib", help="calibration samples: .npy with the batch on axis 0, in the model's layout")
    p.add_argument("--reuse", type=int, default=1,
                   help="reuse factor: cycles each multiplier is reused (must divide every layer)")
    p.add_argument("--act-bits", type=int, default=16, help="width of every activation tensor (bits)")
    p.add_argument("--weight-bits", type=int, default=8,
                   help="width of every weight tensor (bits); 4 and 2 are the sub-byte grids of `compile`: "
                   "int4 [-7, 7] (4-bit multiplier operands) and ternary {-1, 0, 1} (add / subtract, no "
                   "multiplier), each with one power-of-two scale per layer")
    p.add_argument("--ternary-method", default="absmean", choices=["absmean", "median"],
                   help="scale of ternary weights (--weight-bits 2): mean |w| or median |w|, rounded to a "
                   "power of two")
    p.add_argument("--rounding", choices=["rnd", "trn"], default="rnd",
                   help="dropping bits: round half up (AP_RND) or truncate (AP_TRN)")
    p.add_argument("--overflow", choices=["sat", "wrap"], default="sat",
                   help="out of range: saturate (AP_SAT) or wrap (AP_WRAP)")
    p.add_argument("--khot-max", type=int, default=3,
                   help="a layer whose weights are all sums of at most this many signed powers of two "
                   "multiplies by shift and add, without DSPs (0: always multipliers)")


def _bits(args) -> dict:
    return {"calib": args.calib, "reuse": args.reuse, "act_bits": args.act_bits,
            "weight_bits": args.weight_bits, "rounding": args.rounding, "overflow": args.overflow,
            "khot_max": args.khot_max, "ternary_method": args.ternary_method}


def _warn_no_calib(args):
    if args.calib is None:
        print("mcuforge: warning: no --calib samples; binary points the model does not set (QONNX Quant "
              "nodes set theirs) come from uniform noise in [0, 1]")


def _check_output(args):
    from .errors import McuforgeError
    from .outdir import check_output_dir
    if args.khot_max < 0:
        raise McuforgeError(f"--khot-max must be 0 (always multipliers) or more, not {args.khot_max}")
    check_output_dir(args.output, [args.model, args.calib])


def cmd_hls(args):
    from .codegen.hls.project import write_hls_project
    _check_output(args)
    _warn_no_calib(args)
    out = write_hls_project(args.model, args.output, part=args.part, name=args.name, **_bits(args))
    print(f"wrote Vitis HLS project {out} (vitis_hls -f build_prj.tcl; "
          f"mcuforge simulate {out} --board csim)")


def cmd_rtl(args):
    from .codegen.rtl.project import write_rtl_project
    _check_output(args)
    _warn_no_calib(args)
    out = write_rtl_project(args.model, args.output, name=args.name, balance=not args.no_balance, **_bits(args))
    print(f"wrote Verilog design {out} (mcuforge simulate {out} --board verilator)")


def add_parsers(subparsers):
    from .codegen.fpga.parts import list_parts
    h = subparsers.add_parser("hls", help="write a Vitis HLS C++ project (fixed point)",
                              description="Write a Vitis HLS project of the model in fixed point: top "
                              "function, layer library, typedefs, weights, testbench and build_prj.tcl.")
    _common(h)
    h.add_argument("--part", default="xc7z020", choices=list_parts(), help="FPGA part (targets/fpga/*.toml)")
    h.add_argument("--name", default="myproject", help="top function name")
    h.set_defaults(func=cmd_hls)

    r = subparsers.add_parser("rtl", help="write streaming Verilog and a Verilator testbench (fixed point)",
                              description="Write a streaming dataflow accelerator in Verilog (valid/ready, "
                              "line buffers, MAC lanes, shift requantization) and a Verilator testbench.")
    _common(r)
    r.add_argument("--name", default="mcf_accel", help="top module name")
    r.add_argument("--no-balance", action="store_true",
                   help="give every layer cout/reuse MAC lanes (default: the slowest layer at that reuse "
                   "sets the cycles per frame and every other layer gets the fewest lanes that keep up)")
    r.set_defaults(func=cmd_rtl)
