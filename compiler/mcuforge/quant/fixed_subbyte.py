"""Post-training fix for the FPGA sub-byte layers: bias correction on the fixed scheme's own grid.

A sub-byte layer's weights (quant/subbyte.py: fixed_subbyte_weights, int4 [-7, 7] or ternary
{-1, 0, 1} with a power-of-two scale per output channel) shift the mean of each output channel;
on a small network that shift, not the noise, costs most of the accuracy. The empirical bias
correction of Nagel et al. ("Data-free quantization") measures it on the calibration samples with
the float model's activations, E[layer(x, Q(W) - W)] per channel (before the activation), and
subtracts it from the float bias, so the quantizer that follows stores a corrected bias. It is
the same idea as quant/sensitivity.py's bias_correction for the C backends, computed here with the
golden model's float semantics (numpy, no PyTorch) and the FPGA weight grid.
"""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Node
from ..ir.ops import get_op
from ..reference.executor import Executor
from .subbyte import fixed_subbyte_weights

MAC_OPS = ("conv2d", "dense")


def dequantized_weights(w: np.ndarray, bits: int, ternary_method: str = "absmean", per_channel: bool = True):
    """The real values of a layer's FPGA sub-byte weights: raw * 2^(s_c - F)."""
    raw, t, shifts = fixed_subbyte_weights(w, bits, ternary_method, per_channel)
    shape = (-1,) + (1,) * (np.ndim(w) - 1)
    return np.ldexp(raw.astype(np.float64), (shifts - t.frac).reshape(shape))


def fixed_bias_correction(g: Graph, samples: list[dict], bits: int, ternary_method: str = "absmean",
                          per_channel: bool = True, skip=()) -> Graph:
    """A copy of the float graph g whose conv2d / dense layers (except the weight tensors named in
    `skip`) have biases that absorb the mean output shift of their sub-byte weights on `samples`
    (feeds of the graph's input, one sample each)."""
    g = g.copy()
    layers = [n for n in g.topo_order() if n.op in MAC_OPS and n.inputs[1] not in skip]
    if not layers or not samples:
        return g
    ex = Executor(g)
    shift = {n.name: 0.0 for n in layers}
    dws = {}
    for n in layers:
        w = g.tensors[n.inputs[1]].data.astype(np.float64)
        dws[n.name] = dequantized_weights(w, bits, ternary_method, per_channel) - w
    for feed in samples:
        env = ex.run(feed, keep_all=True)
        for n in layers:
            bare = Node(n.name, n.op, n.inputs[:2], n.outputs, {**n.attrs, "act_min": None, "act_max": None})
            y = get_op(n.op).run_float(bare, [env[n.inputs[0]], dws[n.name]])[0]
            cout = dws[n.name].shape[0]
            shift[n.name] = shift[n.name] + np.asarray(y, np.float64).reshape(-1, cout).mean(axis=0)
    for n in layers:
        mean = shift[n.name] / len(samples)
        cout = len(mean)
        if len(n.inputs) > 2 and n.inputs[2]:
            b = g.tensors[n.inputs[2]]
            b.data = (b.data.astype(np.float64) - mean).astype(np.float32)
        else:
            c = g.const(n.name + "_bias_corr", (-mean).astype(np.float32), "float32")
            g.set_inputs(n, list(n.inputs[:2]) + [c.name])
        assert g.tensors[n.inputs[2]].shape == (cout,)
    return g
