"""Which kernel keys (kernel + window, quant/instr_model.py) real models reach at weight widths 8 /
4 / 2 on Cortex-M4 / M55, lowered as --weight-bits mixed --instr-budget prices them (quant.mixed.
lower_uniform, every layer on its fastest kernel), and which of them have no instruction model of
their own: borrowed (a sibling's model, InstrModel.sibling) or missing (--instr-budget refuses the
model). No QEMU; prints one line per key that is not fitted, with the layers reaching it.

    PYTHONPATH=compiler python benchmarks/instr_model_coverage.py [model names or paths ...]

Default models: the float ONNX corpus fixtures with a calibration set (tests/corpus/fixtures) and
the float mlperf-tiny .tflite models (/work/shared/models/mlperf-tiny, uniform calibration noise).
At this commit: 42 keys fitted, one borrowed (M4, vww_mbv1_96_float's conv_2d_26 at 4 bits:
`mcf_conv2d_s8_w4_dsp_lsh/1x1`, double rounding, from `mcf_conv2d_s8_w4_dsp/1x1`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "compiler"))

FIXTURES = ROOT / "tests" / "corpus" / "fixtures"
MLPERF = Path("/work/shared/models/mlperf-tiny")
DEFAULT = ["mnasnet", "mobilenet_v3_small", "efficientnet_lite", "efficientnet_b0", "ds_cnn", "mobilenet_v2",
           "mobilenet_v1", "shufflenet_v2", "vww_mbv1_96_float", "ic_resnet8_float", "ad_fcae_float"]


def model_and_calib(name: str):
    if Path(name).is_file():
        return Path(name), None
    if (FIXTURES / f"{name}.ts.onnx").is_file():
        return FIXTURES / f"{name}.ts.onnx", np.load(FIXTURES / f"{name}.calib.npy")[:4]
    return MLPERF / f"{name}.tflite", None


def coverage(names, cores=("cortex-m4", "cortex-m55"), widths=(8, 4, 2)) -> dict:
    """{(core, key, status): [layer descriptions]}; status "own", "borrow <key>" or "missing"."""
    from mcuforge.api import load_model, load_samples
    from mcuforge.errors import McuforgeError
    from mcuforge.passes.pipeline import canonicalize
    from mcuforge.quant.calibrate import calibrate
    from mcuforge.quant.instr_model import kernel_key, load_instr_model
    from mcuforge.quant.mixed import MixedOptions, lower_uniform
    from mcuforge.targets import load_core
    found: dict = {}
    for name in names:
        path, calib = model_and_calib(name)
        g = canonicalize(load_model(path))
        if calib is None:
            shape = g.tensors[g.inputs[0]].shape
            calib = np.random.default_rng(0).uniform(0, 1, (4,) + tuple(shape[1:])).astype(np.float32)
        ranges = calibrate(g, load_samples(calib, g), "minmax")
        for core in cores:
            model = load_instr_model(core)
            for bits in widths:
                rows, _ = lower_uniform(g, ranges, bits, load_core(core), MixedOptions(speed_first=True))
                for r in rows:
                    if r["op"] not in ("conv2d", "dense"):
                        continue
                    key = kernel_key(r)
                    model.borrowed.clear()
                    try:
                        model.predict(r)
                        status = "own" if key in model.coefs else f"borrow {next(iter(model.borrowed))[1]}"
                    except McuforgeError:
                        status = "missing"
                    found.setdefault((core, key, status), []).append(
                        f"{path.stem}:{r['name']}:w{bits}:{r['in_shape']}->{r['out_shape']}")
    return found


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", default=DEFAULT)
    args = p.parse_args(argv)
    found = coverage(args.models)
    for (core, key, status), layers in sorted(found.items()):
        if status != "own":
            print(f"{core} {key}: {status}, {len(layers)} layer(s), e.g. {layers[0]}")
    own = sum(1 for (_, _, s) in found if s == "own")
    print(f"{own} keys with their own model, {len(found) - own} borrowed or missing")


if __name__ == "__main__":
    main()
