"""Sub-byte weights on the FPGA backends (issue 13): the digits CNN of tests/fpga with int8,
int4 and ternary weights (per-channel power-of-two scales + bias correction; the accuracy of one
scale per layer beside it), 16-bit activations, reuse factor 2, each design checked bit for bit
golden == HLS C-simulation == Verilator, its accuracy on the digits test set (golden model) and
`yosys synth_xilinx` resources of the RTL (minutes per design; prints a table, never pass/fail).
Then the same CNN after quantization-aware training (issue 13 item 4, tests/fpga/fpga_models.py:
qat_cnn, mcuforge.quant.qat_lowbit with power-of-two per-channel scales, exported as QONNX): int4,
ternary with the first convolution in int4, and ternary everywhere, through the same flow.

    PYTHONPATH=compiler python benchmarks/fpga_subbyte.py [--no-yosys] [--bits 8,4,2] [--reuse 2]
                                                          [--qat 4,2,2all | --qat none]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "compiler"))
sys.path.insert(0, str(ROOT / "tests" / "fpga"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import fpga_models as models  # noqa: E402
from fpga import yosys_resources  # noqa: E402
from mcuforge.codegen.fpga.golden import read_raw  # noqa: E402
from mcuforge.codegen.fpga.graph_io import load_graph  # noqa: E402
from mcuforge.codegen.fpga.layout import to_graph_layout  # noqa: E402
from mcuforge.codegen.fpga.prepare import prepare_fixed  # noqa: E402
from mcuforge.codegen.hls.project import write_hls_project  # noqa: E402
from mcuforge.codegen.rtl.project import write_rtl_project  # noqa: E402
from mcuforge.quant.fixed import input_to_raw  # noqa: E402
from mcuforge.sim import hls_csim, verilator_rtl  # noqa: E402
from mcuforge.sim.fpga import run_reference  # noqa: E402

NAMES = {8: "int8", 4: "int4", 2: "ternary"}


QAT_NAMES = {"4": "int4 QAT", "2": "ternary QAT (conv1 int4)", "2all": "ternary QAT (all layers)"}


def row_for(onnx, calib, x_test, y_test, bits: int, reuse: int, work: Path, yosys: bool, qat: str = "") -> dict:
    """qat: "" (post-training quantization of the float ONNX at `bits`) or the QAT recipe's key (onnx
    is then its QONNX export: every weight layer carries its trained grid)."""
    tag = f"qat{qat}" if qat else f"w{bits}"
    hls = write_hls_project(onnx, work / f"hls_{tag}", calib=calib, reuse=reuse, weight_bits=bits)
    rtl = write_rtl_project(onnx, work / f"rtl_{tag}", calib=calib, reuse=reuse, weight_bits=bits)
    doc = json.loads((rtl / "model.json").read_text())
    g = load_graph(rtl)
    n_in = g.tensors[g.inputs[0]].size
    x_raw = read_raw(rtl / "tb_data" / "tb_input_raw.dat", n_in)
    golden = run_reference(g, x_raw)
    csim = hls_csim.run_csim(hls, x_raw)
    _, info = verilator_rtl.run(rtl, x_raw, expected=golden)
    name = g.inputs[0]
    xt = input_to_raw(g, name, to_graph_layout(g, name, x_test)).reshape(len(x_test), -1)
    acc = float(np.mean(run_reference(g, xt).argmax(1) == y_test))
    acc_layer = "" if qat else acc
    if bits in (4, 2) and not qat:  # the earlier rule for comparison: one power-of-two scale per layer, no bias correction
        gl = prepare_fixed(onnx, calib, 16, bits, per_channel=False, bias_correction=False)
        xl = input_to_raw(gl, name, to_graph_layout(gl, name, x_test)).reshape(len(x_test), -1)
        acc_layer = float(np.mean(run_reference(gl, xl).argmax(1) == y_test))
    w_bits = sum(g.tensors[n.inputs[1]].size * g.tensors[n.inputs[1]].meta["fixed"].width
                 for n in g.topo_order() if n.op in ("conv2d", "dense"))
    row = {"weights": QAT_NAMES[qat] if qat else NAMES[bits], "accuracy": acc, "acc. 1 scale/layer": acc_layer, "weight bits": w_bits, "MAC units": doc["mac_units"],
           "shift-add layers": len(doc["khot"]),
           "exact": bool(np.array_equal(golden, csim) and info["mismatches"] == 0)}
    if yosys:  # synthesised later, several designs at a time (main: --jobs)
        row["_synth"] = (rtl, doc["top"])
    print("  ", {k: v for k, v in row.items() if k != "_synth"}, flush=True)
    return row


def synthesize(rows: list[dict], jobs: int):
    """yosys synth_xilinx of every row's RTL, `jobs` at a time (each is minutes, single-threaded)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(row):
        t = time.time()
        row.update(yosys_resources(*row.pop("_synth")))
        row["synth s"] = round(time.time() - t)
        print(f"   yosys {row['weights']}: LUT {row['LUT']} FF {row['FF']} DSP {row['DSP']} BRAM {row['BRAM']} "
              f"({row['synth s']} s)", flush=True)

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        list(pool.map(one, [r for r in rows if "_synth" in r]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-yosys", action="store_true")
    ap.add_argument("--bits", default="8,4,2")
    ap.add_argument("--reuse", type=int, default=2)
    ap.add_argument("--qat", default="4,2,2all", help="QAT rows (keys of fpga_models.QAT_WIDTHS) or none")
    ap.add_argument("--jobs", type=int, default=2, help="yosys runs at a time")
    args = ap.parse_args()
    xtr, ytr, xte, yte = models.digits()
    work = Path(tempfile.mkdtemp(prefix="mcf_fpga_subbyte_"))
    m = models.train(models.cnn_module(seed=0), xtr, ytr, epochs=12)  # the tests' CNN (fpga_models)
    onnx = models.export(m, work / "cnn.onnx")
    print(f"digits CNN, float accuracy {models.float_accuracy(m, xte, yte):.4f}; reuse {args.reuse}, "
          "16-bit activations")
    rows = [row_for(onnx, xtr[:128], xte, yte, int(b), args.reuse, work, not args.no_yosys)
            for b in args.bits.split(",")]
    for key in ([] if args.qat == "none" else args.qat.split(",")):
        t = time.time()
        q, path = models.qat_cnn(m, xtr, ytr, int(key) if key.isdigit() else key, work / f"cnn_qat{key}.onnx")
        print(f"{QAT_NAMES[key]}: trained in {time.time() - t:.0f} s, PyTorch accuracy "
              f"{models.float_accuracy(q, xte, yte):.4f}", flush=True)
        rows.append(row_for(path, xtr[:128], xte, yte, 4 if key == "4" else 2, args.reuse, work,
                            not args.no_yosys, qat=key))
    synthesize(rows, args.jobs)
    cols = ["weights", "accuracy", "acc. 1 scale/layer", "weight bits", "MAC units", "shift-add layers", "exact", "LUT", "FF", "DSP",
            "BRAM"]
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{r[c]:.4f}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols) + " |")
    print(f"\n(work folder: {work})")


if __name__ == "__main__":
    main()
