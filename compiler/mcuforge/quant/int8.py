"""Post-training int8 quantization (TFLite's scheme): per-tensor asymmetric int8 activations,
per-output-channel symmetric int8 weights, int32 biases with scale s_in * s_w.

Tensors that already carry quantization (from a QDQ ONNX model or a .tflite file) keep it;
the rest take their ranges from calibration. Two options of the search space (mcuforge.search)
depart from that scheme while keeping its arithmetic: per-tensor weights (one scale shared by
every output channel, stored per channel) and symmetric activations (zero point 0)."""
from __future__ import annotations

import numpy as np

from ..errors import McuforgeError
from ..ir.graph import Graph, Node
from ..ir.ops import get_op, infer_node
from ..ir.ops.base import OpDef
from ..ir.tensor import QuantParams

WEIGHT_OPS = {"conv2d", "dense", "conv_transpose2d"}
# ops whose output lies within the range of their (first) input
RANGE_PRESERVING = {"mean"}


def activation_quant(lo: float, hi: float, symmetric: bool = False) -> QuantParams:
    """Asymmetric int8 parameters whose grid covers [lo, hi] and represents 0 exactly; symmetric:
    zero point 0 and scale max(|lo|, |hi|) / 127 (codes -127..127)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if symmetric:
        return QuantParams(max(-lo, hi, 1e-8) / 127.0, 0)
    if hi - lo < 1e-8:
        hi = lo + 1e-8
    scale = (hi - lo) / 255.0
    zp = int(np.clip(np.round(-128 - lo / scale), -128, 127))
    return QuantParams(scale, zp)


def _dead_range(r) -> bool:
    """A calibrated range that is (nearly) one point: a dead output, e.g. a ReLU channel that the
    calibration data never makes positive."""
    if r is None:
        return False
    lo, hi = min(r[0], 0.0), max(r[1], 0.0)
    return hi - lo < 1e-8


def _dead_output_quant(g: Graph, n, r) -> QuantParams:
    """The grid of a dead weighted layer's output: any grid holds its calibrated values (zero), but
    activation_quant's 1e-8-wide one would make the requantization multiplier in_scale x
    w_scale / out_scale overflow the accumulator. Take the accumulator's own step instead (the
    multiplier is at most 1 for every channel): codes are then the raw sums, saturated."""
    x = g.tensors[n.inputs[0]]
    w = g.tensors[n.inputs[1]]
    if x.quant is None or w.data is None:
        return activation_quant(*r)
    step = float(np.max(x.quant.scale)) * float(np.max(np.abs(w.data))) / 127.0
    if step <= 0:
        return activation_quant(*r)
    lo = min(r[0], 0.0)
    return activation_quant(lo, lo + 255.0 * step)


def quantize_weights(w: np.ndarray, per_channel: bool = True) -> tuple[np.ndarray, QuantParams]:
    """Symmetric per output channel (axis 0), values in [-127, 127]; per_channel=False gives every
    channel the scale of the largest weight of the tensor (still stored along axis 0)."""
    from .subbyte import quantize_weights_bits
    return quantize_weights_bits(w, 8, per_channel)


def quantize_int8(g: Graph, ranges: dict[str, tuple[float, float]], per_channel_weights: bool = True,
                  symmetric_acts: bool = False, weight_bits=None, ternary_method: str = "absmean") -> Graph:
    """weight_bits: None / 8 (int8 weights), 4 or 2 for every conv2d / dense, or a dict
    {node name: 8 | 4 | 2}; 4 is int4 in [-7, 7], 2 ternary {-1, 0, 1} with the scale of
    ternary_method ('absmean' or 'median', quant/subbyte.py). Weight layers record
    attrs["weight_bits"]; the integer arithmetic is int8's, on the narrower weight values."""
    from .subbyte import resolve_weight_bits
    bits_of = resolve_weight_bits(g, weight_bits)
    g = g.copy()
    order = g.topo_order()
    float_acts = [t for t in g.inputs] + [t for n in order for t in n.outputs]
    from_model = {name for name in float_acts if g.tensors[name].quant is not None}

    def qparams_for(name: str) -> QuantParams:
        t = g.tensors[name]
        if t.quant is not None:
            return t.quant
        if name not in ranges:
            raise McuforgeError(f"tensor {name} has no calibration range")
        return activation_quant(*ranges[name], symmetric=symmetric_acts)

    # 1. activation quantization, in execution order so ops that keep their input's quantization
    #    (pooling, reshape, ...) and ops with a fixed output grid (softmax, sigmoid) see it settled
    for name in g.inputs:
        g.tensors[name].quant = qparams_for(name)
    requantize_after: list[tuple[Node, QuantParams]] = []
    for n in order:
        op = get_op(n.op)
        if type(op).run_int8 is OpDef.run_int8:
            raise McuforgeError(f"op {n.op} (node {n.name}) has no int8 kernel; compile with --quant float32")
        out = g.tensors[n.outputs[0]]
        if op.keeps_quant:
            want = out.quant
            out.quant = g.tensors[n.inputs[0]].quant
            if want is not None and not want.same_as(out.quant) and _global_avgpool_to_mean(g, n):
                # a global average pool asked for another grid (a QDQ model's squeeze-excite
                # pool): a mean requantizes the sum once, as onnxruntime's float mean does;
                # pooling on the input's grid first would round twice, the first time on a grid
                # up to 10x coarser than the output's
                out.quant = want
            elif want is not None and not want.same_as(out.quant):
                # the op runs on its input's grid and a requantize to `want` follows it; readers
                # of this tensor (another keep-quant op, say) see `want` already
                requantize_after.append((n, want))
                out.quant = want
        elif op.fixed_output_quant is not None and not (op.elementwise_unary and n.outputs[0] in from_model):
            # (a QDQ model's own grid for a sigmoid is kept: the device runs it as a table, which
            # takes any grid, and onnxruntime's model requantizes to that grid)
            out.quant = QuantParams(*op.fixed_output_quant)
        elif out.quant is None and n.op in RANGE_PRESERVING and n.inputs[0] in from_model:
            # a QDQ model left this tensor in float (onnxruntime does not quantize ReduceMean):
            # take the input's grid. Calibrating it instead runs the float graph, which does not
            # apply the clamps of the model's Q nodes (Relu / Clip folded into them), so its
            # range could be far too wide (mobilenet_v2's global pool: scale 1.5 for 0.005).
            out.quant = g.tensors[n.inputs[0]].quant
        elif n.op in WEIGHT_OPS and out.quant is None and _dead_range(ranges.get(n.outputs[0])):
            out.quant = _dead_output_quant(g, n, ranges[n.outputs[0]])
        else:
            out.quant = qparams_for(n.outputs[0])

    # 2. constants: weights per channel, biases in int32, other constant operands per tensor
    for n in order:
        if n.op in WEIGHT_OPS:
            _quantize_weight_and_bias(g, n, per_channel_weights, bits_of[n.name], ternary_method)
            n.attrs["weight_bits"] = bits_of[n.name]
        else:
            for i, name in enumerate(n.inputs):
                t = g.tensors[name] if name else None
                if t is not None and t.is_const and t.dtype == "float32":
                    q = t.quant or activation_quant(float(t.data.min()), float(t.data.max()))
                    data = np.clip(np.round(t.data / q.s) + q.zp, -128, 127)
                    c = g.const(name + "_q", data.astype(np.int8), "int8", q)
                    g.set_inputs(n, n.inputs[:i] + [c.name] + n.inputs[i + 1:])

    for name in float_acts:
        g.tensors[name].dtype = "int8"

    # 3. concat inputs must share the output's grid; keep-quant ops with a different wish
    for n in [n for n in order if n.op == "concat"]:
        oq = g.tensors[n.outputs[0]].quant
        new_inputs = []
        for name in n.inputs:
            if g.tensors[name].quant.same_as(oq):
                new_inputs.append(name)
                continue
            new_inputs.append(_insert_requantize(g, name, oq, f"{n.name}_{name}_rq", before=n))
        g.set_inputs(n, new_inputs)
    for n, want in requantize_after:
        _requantize_output(g, n, want)
    g.prune_tensors()
    g.meta["quant"] = "int8"
    return g


def _global_avgpool_to_mean(g: Graph, n: Node) -> bool:
    """Turn an average pool over the whole image (NHWC, no padding, no fused clamp) into a mean
    over H and W; False (unchanged) for any other node."""
    if n.op != "avgpool" or n.attrs.get("act_min") is not None or n.attrs.get("act_max") is not None:
        return False
    shape = g.tensors[n.inputs[0]].shape
    if len(shape) != 4 or tuple(n.attrs["kernel"]) != tuple(shape[1:3]) or any(n.attrs["pads"]):
        return False
    n.op, n.attrs = "mean", {"axes": (1, 2), "keepdims": 1}
    return True


def _insert_requantize(g: Graph, src: str, q: QuantParams, name: str, before: Node) -> str:
    out = g.unique(name + "_out")
    node = Node(g.unique(name), "requantize", [src], [out])
    g.add_node(node)
    infer_node(g, node)
    g.tensors[out].dtype, g.tensors[out].quant = "int8", q
    return out


def _requantize_output(g: Graph, n: Node, want: QuantParams):
    old = n.outputs[0]
    mid = g.unique(old + "_pre")
    t = g.tensors.pop(old)
    g.remove_node(n.name)
    n.outputs = [mid]
    g.add_node(n)
    infer_node(g, n)
    g.tensors[mid].dtype, g.tensors[mid].quant = "int8", g.tensors[n.inputs[0]].quant
    node = Node(g.unique(n.name + "_rq"), "requantize", [mid], [old])
    g.tensors[old] = t
    t.quant = want
    g.add_node(node)


def _quantize_weight_and_bias(g: Graph, n: Node, per_channel: bool = True, bits: int = 8,
                              ternary_method: str = "absmean"):
    from .subbyte import grid_max, mult16_scales, quantize_to_grid, quantize_weights_bits
    w = g.tensors[n.inputs[1]]
    if w.dtype == "int8":
        if bits < 8:
            raise McuforgeError(f"node {n.name}: the model's weights are int8 already; "
                                f"{bits}-bit weights need a float or QDQ model")
        return
    on_grid = w.quant is not None and "q_int" in w.meta and \
        np.abs(np.asarray(w.meta["q_int"], np.int64)).max(initial=0) <= grid_max(bits)
    if w.quant is not None and "q_int" in w.meta and bits < 8 and not on_grid:
        # a QDQ model's int8 weights onto the narrower grid: from their dequantized values
        deq = w.meta["q_int"].astype(np.float64) * np.asarray(w.quant.scale, np.float64).reshape(
            (-1,) + (1,) * (w.data.ndim - 1))
        q, wq = quantize_weights_bits(deq, bits, per_channel, ternary_method)
    elif w.quant is not None and "q_int" in w.meta:
        if np.any(w.quant.zero_point != 0):
            raise McuforgeError(f"node {n.name}: asymmetric weights are not supported (zero point != 0)")
        cout = w.shape[0]
        scale = np.broadcast_to(w.quant.scale, (cout,)).astype(np.float64)
        if w.quant.per_channel and w.quant.axis != 0:
            raise McuforgeError(f"node {n.name}: weights quantized along axis {w.quant.axis}, expected the output axis")
        q = np.clip(w.meta["q_int"], -128, 127).astype(np.int8)
        wq = QuantParams(scale, np.zeros(cout, np.int64), axis=0)
    else:
        q, wq = quantize_weights_bits(w.data, bits, per_channel, ternary_method)
        if len(n.inputs) > 2 and n.inputs[2]:
            # a (nearly) dead channel has a tiny weight scale, and its bias would overflow int32 at
            # s_in * s_w: raise that channel's scale until the bias fits (its weights round to ~0)
            b = np.abs(g.tensors[n.inputs[2]].data.astype(np.float64)).reshape(-1)
            need = b / (g.tensors[n.inputs[0]].quant.s * (2 ** 31 - 1) * 0.5)
            if np.any(need > wq.scale):
                scale = np.maximum(wq.scale, need if per_channel else need.max())
                q = quantize_to_grid(w.data, scale, bits)
                wq = QuantParams(scale, np.zeros_like(scale, np.int64), axis=0)
    if bits < 8 and not on_grid:
        # our grid: scales with 16-bit requantization multipliers (quant/subbyte.py: mult16_scales)
        src = deq if w.quant is not None and "q_int" in w.meta else w.data
        scale = mult16_scales(wq.scale, g.tensors[n.inputs[0]].quant.s, g.tensors[n.outputs[0]].quant.s)
        q = quantize_to_grid(src, scale, bits)
        wq = QuantParams(scale, np.zeros_like(scale, np.int64), axis=0)
    wc = g.const(w.name + "_q", q, "int8", wq)
    ins = [n.inputs[0], wc.name]
    if len(n.inputs) > 2 and n.inputs[2]:
        b = g.tensors[n.inputs[2]]
        s_in = g.tensors[n.inputs[0]].quant.s
        bias_scale = s_in * wq.scale
        bq = np.round(b.data.astype(np.float64) / bias_scale)
        if np.abs(bq).max(initial=0) >= 2 ** 31:
            raise McuforgeError(f"node {n.name}: bias does not fit int32 at scale {bias_scale.min():.3g}")
        ins.append(g.const(b.name + "_q", bq.astype(np.int32), "int32",
                           QuantParams(bias_scale, np.zeros_like(bias_scale, np.int64), axis=0)).name)
    g.set_inputs(n, ins)
