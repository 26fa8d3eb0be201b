"""FPGA backend measurements (prints tables; never pass/fail):

1. Verilator cycles per inference of the streaming RTL for two reuse factors, against the issue's
   bound ceil(MACs / MAC units) + pipeline depth (depth = one register stage per layer module);
   both the interval of back-to-back inferences and the latency of one inference alone. The
   latency is also shown against the dataflow bound ("df bound", RtlDesign.latency_bound): the
   earliest the last output of a lone inference can leave in a layer-pipelined design with the
   same lanes, where a layer overlaps its producer only as far as the data allow (a dense
   layer's outputs exist only after its last input, a window layer's last output rows wait for
   the last input rows, streams carry one element per beat). The issue's bound assumes every
   MAC unit busy from the first input to the last output, which a chain of dependent layers
   cannot do for a single inference; the interval is where it applies.
2. Resources from `yosys synth_xilinx` (LUT, FF, DSP, BRAM) for every design (minutes each).
3. The same MLP through hls4ml (PyPI, PyTorch front end): accuracy of both fixed-point models on
   the digits test set, and hls4ml's C-simulation outputs next to ours.

    PYTHONPATH=compiler python benchmarks/fpga.py [--no-yosys] [--no-hls4ml] [--models mlp,cnn,big]
        [--reuse 1,2] [--big-reuse 4,8]

The bound's MAC units are the design's own (its multipliers): with balanced lanes (the default)
every layer gets the fewest lanes that keep up with the slowest one at the given reuse factor, and
a dense layer too small for lanes of its own runs on the previous dense layer's lanes.
"""
from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "compiler"))
sys.path.insert(0, str(ROOT / "tests" / "fpga"))

import fpga_models as models  # noqa: E402
from mcuforge.codegen.fpga.golden import read_raw  # noqa: E402
from mcuforge.codegen.fpga.layout import to_graph_layout  # noqa: E402
from mcuforge.codegen.hls.project import write_hls_project  # noqa: E402
from mcuforge.codegen.rtl.project import write_rtl_project  # noqa: E402
from mcuforge.sim import hls_csim, verilator_rtl  # noqa: E402
from mcuforge.codegen.fpga.graph_io import load_graph  # noqa: E402
from mcuforge.quant.fixed import input_to_raw, raw_to_real  # noqa: E402

CELL_KINDS = {"LUT": r"LUT\d", "FF": r"FD[RSCP]E", "DSP": r"DSP48E1", "BRAM": r"RAMB(18|36)E1"}


def yosys_resources(rtl_dir: Path, top: str) -> dict:
    files = " ".join(str(p) for p in sorted((rtl_dir / "rtl").glob("*.v")))
    r = subprocess.run(["yosys", "-p", f"read_verilog {files}; synth_xilinx -top {top} -family xc7; stat"],
                       capture_output=True, text=True)
    cells = dict((m.group(1), int(m.group(2))) for m in re.finditer(r"^\s+(\S+)\s+(\d+)\s*$", r.stdout, re.M))
    return {k: sum(n for c, n in cells.items() if re.fullmatch(pat, c)) for k, pat in CELL_KINDS.items()}


def rtl_rows(trained, name: str, reuses, work: Path, yosys: bool):
    rows = []
    for reuse in reuses:
        d = write_rtl_project(trained.onnx, work / f"{name}_rtl_r{reuse}", calib=trained.calib, reuse=reuse)
        doc = __import__("json").loads((d / "model.json").read_text())
        n_in = int(np.prod(doc["input"]["shape"]))
        x_raw = read_raw(d / "tb_data" / "tb_input_raw.dat", n_in)
        golden = read_raw(d / "tb_data" / "tb_output_raw.dat", int(np.prod(doc["output"]["shape"])))
        _, lat = verilator_rtl.run(d, x_raw, expected=golden, isolated=True)
        reps = 4  # 32 back-to-back frames: the interval is measured between the first and the last
        _, thr = verilator_rtl.run(d, np.tile(x_raw, (reps, 1)), expected=np.tile(golden, (reps, 1)),
                                   isolated=False)
        depth = len(doc["layers"])
        bound = math.ceil(doc["macs"] / doc["mac_units"]) + depth
        row = {"model": name, "reuse": reuse, "MACs": doc["macs"], "MAC units": doc["mac_units"],
               "bound": bound, "interval": thr["interval"], "latency": lat["cycles"] / lat["frames"],
               "df bound": doc["latency_bound"], "exact": lat["mismatches"] == thr["mismatches"] == 0}
        row["interval/bound"] = row["interval"] / bound
        row["latency/bound"] = row["latency"] / bound
        row["latency/df"] = row["latency"] / row["df bound"]
        if yosys:
            t = time.time()
            row.update(yosys_resources(d, doc["top"]))
            row["synth s"] = round(time.time() - t)
        rows.append(row)
        print("  ", row, flush=True)
    return rows


def our_predictions(trained, work: Path):
    prj = write_hls_project(trained.onnx, work / "mlp_hls", calib=trained.calib, reuse=4)
    g = load_graph(prj)
    name = g.inputs[0]
    x_raw = input_to_raw(g, name, to_graph_layout(g, name, trained.x_test)).reshape(len(trained.x_test), -1)
    y_raw = hls_csim.run_csim(prj, x_raw)
    return raw_to_real(g, g.outputs[0], y_raw)


def hls4ml_predictions(trained, work: Path):
    import hls4ml
    # the Linear stack without its leading Flatten, on flat 64-value inputs: hls4ml's channels-last
    # conversion would otherwise reorder the flattened image
    body = trained.module[1:]
    cfg = hls4ml.utils.config_from_pytorch_model(body, input_shape=(64,), granularity="name",
                                                 default_precision="ap_fixed<16,6>", backend="Vitis")
    hm = hls4ml.converters.convert_from_pytorch_model(body, hls_config=cfg, backend="Vitis",
                                                      output_dir=str(work / "hls4ml_prj"),
                                                      part="xc7z020clg400-1", io_type="io_parallel")
    hm.compile()
    x = np.ascontiguousarray(trained.x_test.reshape(len(trained.x_test), 64).astype(np.float32))
    return np.asarray(hm.predict(x)).reshape(len(trained.x_test), -1)


def table(rows, cols):
    print(" | ".join(f"{c:>10}" for c in cols))
    for r in rows:
        print(" | ".join(f"{r.get(c, ''):>10.3f}" if isinstance(r.get(c), float) else f"{str(r.get(c, '')):>10}" for c in cols))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-yosys", action="store_true")
    ap.add_argument("--no-hls4ml", action="store_true")
    ap.add_argument("--models", default="mlp,cnn,big",
                    help="RTL rows for these models: mlp, cnn, big (untrained 256-32-8 MLP whose weight "
                    "ROMs are large enough for block RAM)")
    ap.add_argument("--reuse", default="1,2", help="reuse factors of the mlp and cnn rows")
    ap.add_argument("--big-reuse", default="4,8", help="reuse factors of the big rows")
    args = ap.parse_args()
    wanted = args.models.split(",")
    reuses = tuple(int(r) for r in args.reuse.split(","))
    big_reuses = tuple(int(r) for r in args.big_reuse.split(","))
    xtr, ytr, xte, yte = models.digits()
    from conftest import Trained
    work = Path(tempfile.mkdtemp(prefix="mcf_fpga_bench_"))
    import torch
    torch.manual_seed(0)     # the modules' initial weights: the same trained models on every run
    mlp_m = models.train(models.mlp_module(), xtr, ytr, epochs=10)
    mlp = Trained(mlp_m, models.export(mlp_m, work / "mlp.onnx"), xtr[:128], xte, yte)
    designs = {"mlp": mlp}
    if "cnn" in wanted:
        cnn_m = models.train(models.cnn_module(), xtr, ytr, epochs=12)
        designs["cnn"] = Trained(cnn_m, models.export(cnn_m, work / "cnn.onnx"), xtr[:128], xte, yte)

    if "big" in wanted:
        torch.manual_seed(0)
        big_m = torch.nn.Sequential(torch.nn.Linear(256, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8)).eval()
        big_calib = np.random.default_rng(0).uniform(0, 1, (64, 256)).astype(np.float32)
        designs["big"] = Trained(big_m, models.export(big_m, work / "big.onnx", shape=(1, 256)), big_calib, None, None)

    print("== RTL under Verilator (cycles per inference) and yosys synth_xilinx resources ==")
    # synthesis takes minutes per design on a small machine
    rows = []
    for name in wanted:
        rows += rtl_rows(designs[name], name, big_reuses if name == "big" else reuses, work, not args.no_yosys)
    table(rows, ["model", "reuse", "MACs", "MAC units", "bound", "interval", "interval/bound", "latency",
                 "latency/bound", "df bound", "latency/df", "exact", "LUT", "FF", "DSP", "BRAM"])

    if args.no_hls4ml and "mlp" not in wanted:
        return
    print("\n== MLP: mcuforge fixed point vs hls4ml (both C-simulated), digits test set ==")
    import torch
    ours = our_predictions(mlp, work)
    with torch.no_grad():
        ref = mlp.module(torch.from_numpy(xte)).numpy()
    float_acc = float(np.mean(ref.argmax(1) == yte))
    print(f"float (torch) accuracy                         {float_acc:.4f}")
    print(f"mcuforge (16-bit act. <16,F> per tensor, 8-bit weights) {np.mean(ours.argmax(1) == yte):.4f}"
          f"   max |logit - float| {np.abs(ours - ref).max():.4f}")
    if not args.no_hls4ml:
        try:
            theirs = hls4ml_predictions(mlp, work)
            print(f"hls4ml (ap_fixed<16,6> weights and act.)      {np.mean(theirs.argmax(1) == yte):.4f}"
                  f"   max |logit - float| {np.abs(theirs - ref).max():.4f}")
            print(f"argmax agreement mcuforge vs hls4ml            {np.mean(theirs.argmax(1) == ours.argmax(1)):.4f}")
            print(f"max |mcuforge - hls4ml| (logits)               {np.abs(theirs - ours).max():.4f}")
        except Exception as e:  # report, do not hide: the comparison is optional tooling
            print(f"hls4ml comparison failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    print(f"\n(work folder: {work})")


if __name__ == "__main__":
    main()
