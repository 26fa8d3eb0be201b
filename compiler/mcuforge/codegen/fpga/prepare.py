"""Model file or Graph -> the fixed-point graph both FPGA backends emit: canonicalize,
calibrate on the user's samples, choose per-tensor <W, F>, quantize weights."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import McuforgeError
from ...ir.graph import Graph
from ...passes.pipeline import canonicalize
from ...quant.calibrate import calibrate
from ...quant.fixed import quantize_fixed
from .layout import to_graph_layout


def load_model(model) -> Graph:
    if isinstance(model, Graph):
        return model
    path = Path(model)
    if path.suffix.lower() == ".onnx":
        from ...frontend.onnx import load_onnx
        return canonicalize(load_onnx(path))
    if path.suffix.lower() == ".tflite":
        from ...frontend import tflite  # noqa: F401  (written by another issue; import lazily)
        return canonicalize(tflite.load_tflite(path))
    raise McuforgeError(f"unsupported model file {path.name}: expected .onnx or .tflite")


def calibration_samples(g: Graph, calib) -> list[dict]:
    """calib: None (uniform noise in [0, 1], with a warning upstream), an array of samples in the
    model's own layout with a leading sample axis, or a path to such a .npy file."""
    name = g.inputs[0]
    if calib is None:
        shape = g.tensors[name].shape
        calib = np.random.default_rng(0).uniform(0, 1, (32,) + shape[1:]).astype(np.float32)
        return [{name: calib[i:i + 1]} for i in range(len(calib))]
    from ...sample_files import check_real_array, load_array_file
    if isinstance(calib, (str, Path)):
        calib = load_array_file(calib, "calibration")
        if isinstance(calib, dict):     # an .npz: its one array (the FPGA backends take one input)
            if len(calib) != 1:
                raise McuforgeError(f"calibration .npz holds {len(calib)} arrays; the model has one input")
            calib = next(iter(calib.values()))
    calib = check_real_array(calib, f"calibration samples for input {name}")
    x = to_graph_layout(g, name, np.asarray(calib, dtype=np.float32))
    return [{name: x[i:i + 1]} for i in range(min(len(x), 256))]


def prepare_fixed(model, calib=None, act_bits: int = 16, weight_bits: int = 8, rounding: str = "rnd",
                  overflow: str = "sat", overrides=None, ternary_method: str = "absmean",
                  per_channel: bool = True, bias_correction: bool = True) -> Graph:
    """weight_bits 4 / 2 (sub-byte): per-channel power-of-two weight scales unless per_channel is
    False, and biases corrected on the calibration samples for the weights' mean error
    (quant/fixed_subbyte.py) unless bias_correction is False."""
    g = load_model(model)
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise McuforgeError(f"the FPGA backends take one input and one output, this model has "
                            f"{len(g.inputs)} and {len(g.outputs)}")
    if weight_bits != 8 and not any(n.op in ("conv2d", "dense") for n in g.topo_order()):
        raise McuforgeError(f"--weight-bits {weight_bits}: the model has no conv / dense layer whose weights it "
                            f"would set (ops: {', '.join(sorted({n.op for n in g.topo_order()}))}); leave it at 8")
    from ...passes.channel_affine import channel_affine_to_depthwise
    from ...quant.qonnx import qonnx_fixed_types
    g = channel_affine_to_depthwise(g.copy())  # a BatchNorm kept as its own layer (mul, add) -> 1x1 depthwise conv
    overrides = {**qonnx_fixed_types(g), **(overrides or {})}  # a QONNX model's own types come first
    samples = calibration_samples(g, calib)
    from ...quant.fixed import SUBBYTE_BITS
    if weight_bits in SUBBYTE_BITS and bias_correction:
        from ...quant.fixed_subbyte import fixed_bias_correction
        g = fixed_bias_correction(g, samples, weight_bits, ternary_method, per_channel, skip=set(overrides))
    ranges = calibrate(g, samples)
    return quantize_fixed(g, ranges, act_bits, weight_bits, rounding, overflow, overrides, ternary_method,
                          per_channel)
