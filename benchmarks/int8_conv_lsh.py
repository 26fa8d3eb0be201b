"""int8 convolutions and depthwise layers with left-shift channels (multiplier >= 1/2) on Cortex-M4.

    PYTHONPATH=compiler python benchmarks/int8_conv_lsh.py            # QEMU M4 before / after table
    PYTHONPATH=compiler python benchmarks/int8_conv_lsh.py --count    # real models: layers affected

The table: executed instructions on QEMU Cortex-M4 (-icount, one inference, the whole run) before
(the kernels chosen without codegen/c/variants/dsp_conv_lsh.py: `_fast`) and after, golden == QEMU
checked on both: TFLite layers (double rounding, tests/test_int8_conv_lsh.py: int8_conv_model) and
the ONNX net quantized here (single rounding: conv_lsh_net).

--count: every int8 convolution / depthwise layer of the real models whose live channels include a
left shift (stored shift >= 0), with the kernel it gets on Cortex-M4 (speed_first, so that the
count is not about the arena choice): the corpus fixtures (float ONNX quantized here on their
calibration set, single rounding; the same quantized by onnxruntime's quantize_static as QDQ models,
the corpus's int8 test path, single rounding; the Keras int8 TFLite conversions, double rounding) and the MLPerf
Tiny models ($MCUFORGE_MLPERF_TINY: the int8 .tflite files; the float ones quantized here on
uniform noise in [0, 1), as benchmarks/instr_model_coverage.py does, double rounding: a .tflite's
default). Each line names its build's rounding (model.json). At this commit: none of 837 layers.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "compiler"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.append(str(ROOT / "benchmarks"))       # int8_fc_lsh; after tests/ (tests/corpus, not benchmarks/corpus.py)

from mcuforge.api import compile_model  # noqa: E402
from mcuforge.codegen.c import kernel_select, variants  # noqa: E402,F401

FIXTURES = ROOT / "tests" / "corpus" / "fixtures"
MLPERF = Path(os.environ.get("MCUFORGE_MLPERF_TINY", "/work/shared/models/mlperf-tiny"))
ONNX_NETS = ["ds_cnn", "autoencoder", "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "squeezenet",
             "efficientnet_b0", "efficientnet_lite", "resnet", "mnasnet", "shufflenet_v2", "kwt", "unet", "tiny_yolo"]
KERAS = ["keras_ds_cnn", "keras_se_cnn", "keras_resnet", "keras_unet", "keras_mobilenet_v1", "keras_mobilenet_v2",
         "keras_mobilenet_v3_small"]
CONV_KERNELS = ("mcf_conv2d_s8", "mcf_depthwise_conv2d_s8")


# -- --count ---------------------------------------------------------------------------------------
def _models(work: Path):
    """(label, model path, calib: an array, "noise" or None)."""
    for n in ONNX_NETS:
        yield f"{n} (ONNX)", FIXTURES / f"{n}.ts.onnx", np.load(FIXTURES / f"{n}.calib.npy")
    from corpus.check import ort_qdq_model
    for n in ONNX_NETS:
        calib = np.load(FIXTURES / f"{n}.calib.npy")
        qdq = ort_qdq_model(FIXTURES / f"{n}.ts.onnx", calib, work / f"{n}.qdq.onnx")
        yield f"{n} (ONNX QDQ by onnxruntime)", qdq, calib
    for n in KERAS:
        yield f"{n} (TFLite int8)", FIXTURES / f"{n}.tflite", None
    for n in ("kws_dscnn_int8", "ic_resnet8_int8", "vww_mbv1_96_int8", "ad_fcae_int8"):
        yield f"{n} (TFLite int8)", MLPERF / f"{n}.tflite", None
    for n in ("ic_resnet8_float", "vww_mbv1_96_float", "ad_fcae_float"):
        yield f"{n} (quantized here, noise calibration)", MLPERF / f"{n}.tflite", "noise"


def left_shift_layers(path, calib, work: Path) -> tuple[int, list]:
    """(int8 conv / depthwise layers, [(node, kernel, live left-shift channels, channels, chosen function)],
    the build's rounding) on Cortex-M4, from the parameters the kernel choice sees."""
    from mcuforge.codegen.c.variants.dsp_gemm import dead_channels
    seen: dict = {}
    real = kernel_select.KernelSelector.choose

    def spy(self, kernel, params=None):
        v = real(self, kernel, params)
        if kernel in CONV_KERNELS and params and "consts" in params:
            live, dead, _ = dead_channels(params["consts"], params["rq"])
            left = int(((np.asarray(live["shift"]) >= 0) & ~dead).sum())
            seen[self.node] = (kernel, left, len(dead), v.function)
        return v
    if isinstance(calib, str):
        from mcuforge.api import load_model
        shape = load_model(path).tensors[load_model(path).inputs[0]].shape
        calib = np.random.default_rng(0).uniform(0, 1, (4,) + tuple(shape[1:])).astype(np.float32)
    kernel_select.KernelSelector.choose = spy
    try:
        compile_model(path, work, target="cortex-m4", calib=calib, quiet=True, speed_first=True)
    finally:
        kernel_select.KernelSelector.choose = real
    mode = json.loads((work / "model.json").read_text()).get("requant")
    return len(seen), [(n, k, l, c, f) for n, (k, l, c, f) in seen.items() if l], mode


def count():
    total = hit = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, path, calib) in enumerate(_models(Path(tmp))):
            if not path.is_file():
                print(f"{label}: {path} not found")
                continue
            try:
                n, rows, mode = left_shift_layers(path, calib, Path(tmp) / str(i))
            except Exception as e:          # a model that does not compile: say so, count nothing
                print(f"{label}: not compiled ({type(e).__name__}: {str(e).splitlines()[0][:120]})")
                continue
            total += n
            hit += len(rows)
            print(f"{label} [{mode} rounding]: {len(rows)} of {n} conv / depthwise layers with left shifts")
            for node, kernel, left, c, fn in rows:
                print(f"    {node}: {kernel.replace('mcf_', '')}, {left} of {c} channels -> {fn}")
            sys.stdout.flush()
    print(f"total: {hit} of {total} int8 conv / depthwise layers have live left-shift channels")


# -- the QEMU table --------------------------------------------------------------------------------
# (label, int8_conv_model keywords); a right-shift-only twin (exps < 0) shows the plain kernels' count
TFL = [("conv 3x3 16x16x16->32", dict(hw=(16, 16), cin=16, cout=32, k=3)),
       ("conv 1x1 16x16x32->64", dict(hw=(16, 16), cin=32, cout=64, k=1)),
       ("depthwise 3x3 24x24x32", dict(hw=(24, 24), cin=32, cout=32, k=3, dw=True)),
       ("depthwise 5x5 12x12x16", dict(hw=(12, 12), cin=16, cout=16, k=5, dw=True))]
RIGHT_ONLY = (-4, -1, -2, -3, -1, -6)


def run(model, x, work: Path, before: bool, calib=None):
    """benchmarks/int8_fc_lsh.py's run for the convolution kernels, speed_first."""
    from int8_fc_lsh import run as run_lsh
    from mcuforge.codegen.c.variants import dsp_conv_lsh
    return run_lsh(model, x, work, before, calib, kernels=CONV_KERNELS, module=dsp_conv_lsh, op="conv2d",
                   speed_first=True)


def table():
    from test_int8_conv_lsh import _conv_inputs, conv_lsh_net, int8_conv_model
    print("| layer | rounding | before: kernel | instructions | after: kernel | instructions | MACs/instr after | "
          "speed-up | right shifts only (plain DSP kernel) | bit-exact |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = []
        for i, (name, spec) in enumerate(TFL):
            path, plain = tmp / f"c{i}.tflite", tmp / f"r{i}.tflite"
            path.write_bytes(int8_conv_model(**spec))
            plain.write_bytes(int8_conv_model(**dict(spec, exps=RIGHT_ONLY)))
            x = _conv_inputs(spec["hw"] + (spec["cin"],), n=1)
            cases.append((f"TFLite {name}", "double", path, x, None, plain))
        model, calib, x = conv_lsh_net(tmp / "m.onnx")
        cases.append(("ONNX conv 3x3 6x6x12->10 + conv 1x1 ->9 + depthwise 3x3 6x7x8", "single", model,
                      [xi[:1] for xi in x], calib, None))
        for name, mode, model, x, calib, plain in cases:
            kb, nb, macs, eb = run(model, x, tmp / "before", True, calib)
            ka, na, _, ea = run(model, x, tmp / "after", False, calib)
            np_ = f"{run(plain, x, tmp / 'plain', False)[1]:,}" if plain else "-"
            kb = " + ".join(sorted(set(k.replace("mcf_", "") for k in kb)))
            ka = " + ".join(sorted(set(k.replace("mcf_", "") for k in ka)))
            print(f"| {name} | {mode} | {kb} | {nb:,} | {ka} | {na:,} | {macs / na:.2f} | {nb / na:.2f}x | {np_} | "
                  f"{'yes' if eb and ea else 'NO'} |")
            sys.stdout.flush()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", action="store_true", help="count the real models' layers with left shifts")
    args = p.parse_args(argv)
    if args.count:
        count()
    else:
        table()


if __name__ == "__main__":
    main()
