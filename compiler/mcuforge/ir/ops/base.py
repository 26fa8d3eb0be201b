"""The op registry: each op kind declares its attributes, shape inference, float semantics and
integer (int8 contract) semantics in one class. The golden model, the quantizer and the C
backend all read the same class, so there is one definition of what an op computes."""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node
from ..tensor import Tensor

OPS: dict[str, "OpDef"] = {}
REQUIRED = object()  # attribute default meaning "must be given"


def register(cls):
    OPS[cls.name] = cls()
    return cls


def get_op(name: str) -> "OpDef":
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"no op {name!r} in the registry") from None


class OpDef:
    name = ""
    # attribute name -> default (REQUIRED: must be given)
    attrs: dict = {}
    # int8 semantics need the same quantization on input 0 and output 0 (pooling, reshape, ...)
    keeps_quant = False
    # an int8 -> int8 function of one value: lowered to a 256-entry table for the device
    elementwise_unary = False
    # ops whose float output scale is fixed by the int8 contract: (scale, zero_point)
    fixed_output_quant: tuple[float, int] | None = None

    def check_attrs(self, node: Node):
        for k, default in self.attrs.items():
            if k not in node.attrs:
                if default is REQUIRED:
                    raise ValueError(f"{node.op} node {node.name}: missing attribute {k}")
                node.attrs[k] = default

    def infer(self, node: Node, ins: list[Tensor]) -> list[tuple[tuple, str]]:
        raise NotImplementedError

    def run_float(self, node: Node, xs: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def int8_params(self, node: Node, g: Graph) -> dict:
        """Integer parameters derived at compile time (multipliers, shifts, offsets, ranges)."""
        return {}

    def run_int8(self, node: Node, xs: list[np.ndarray], p: dict) -> list[np.ndarray]:
        raise NotImplementedError(f"op {self.name} has no int8 semantics")

    def fixed_params(self, node: Node, g: Graph) -> dict:
        """Parameters of the `fixed` contract (accumulator format, shifts, clamp bounds)."""
        return {}

    def run_fixed(self, node: Node, xs: list[np.ndarray], p: dict) -> list[np.ndarray]:
        """Exact `fixed` semantics on raw int64 values (see reference/fixed_arith.py)."""
        raise NotImplementedError(f"op {self.name} has no fixed-point semantics")

    def macs(self, node: Node, g: Graph) -> int:
        return 0


def infer_node(g: Graph, node: Node):
    """Shape/dtype inference for one node; creates or updates its output tensors."""
    op = get_op(node.op)
    op.check_attrs(node)
    ins = [g.tensors[t] if t else None for t in node.inputs]
    results = op.infer(node, ins)
    for name, (shape, dtype) in zip(node.outputs, results):
        if name in g.tensors:
            t = g.tensors[name]
            t.shape, t.dtype = tuple(int(d) for d in shape), dtype
        else:
            g.add_tensor(Tensor(name, shape, dtype))


def infer_shapes(g: Graph) -> Graph:
    for node in g.topo_order():
        infer_node(g, node)
    return g


# -- fused activation: a clamp on the output, in real units -----------------------------------
def act_range_float(node: Node) -> tuple[float, float]:
    lo = node.attrs.get("act_min")
    hi = node.attrs.get("act_max")
    return (-np.inf if lo is None else lo), (np.inf if hi is None else hi)


def apply_act_float(node: Node, y: np.ndarray) -> np.ndarray:
    lo, hi = act_range_float(node)
    if lo == -np.inf and hi == np.inf:
        return y
    return np.clip(y, lo, hi).astype(y.dtype)


def act_range_int8(node: Node, out_q, qmin: int = -128, qmax: int = 127) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized: the fused clamp in the output's integer grid
    (int8 by default; int16 activations pass their own bounds)."""
    from ...reference.arith import round_half_away
    lo, hi = act_range_float(node)
    s, zp = out_q.s, out_q.zp
    if lo != -np.inf:
        qmin = max(qmin, zp + int(round_half_away(lo / s)))
    if hi != np.inf:
        qmax = min(qmax, zp + int(round_half_away(hi / s)))
    return qmin, qmax


def per_channel_requant_params(node: Node, g: Graph, qmin: int = -128, qmax: int = 127) -> dict:
    """conv2d / dense int8 (or 16x8 with qmin, qmax of int16): input and output zero points, one
    Q31 multiplier and shift per output channel (s_in * s_w[c] / s_out), and the fused activation
    in the output grid."""
    from ...reference import arith
    xq = g.tensors[node.inputs[0]].quant
    wq = g.tensors[node.inputs[1]].quant
    oq = g.tensors[node.outputs[0]].quant
    w_scales = np.broadcast_to(wq.scale, (g.tensors[node.inputs[1]].shape[0],))
    mults, shifts = zip(*(arith.quantize_multiplier(xq.s * float(ws) / oq.s) for ws in w_scales))
    lo, hi = act_range_int8(node, oq, qmin, qmax)
    return {"in_zp": xq.zp, "out_zp": oq.zp, "mult": np.array(mults, np.int64),
            "shift": np.array(shifts, np.int64), "act_min": lo, "act_max": hi}


def check_grouped_weights(node: Node, x_shape, w_shape) -> tuple[int, int, int, int, int, int, int]:
    """NHWC input and [Cout, KH, KW, Cin/groups] weights of a (transposed) convolution that agree
    with `groups`: returns n, h, w, cin, cout, kh, kw."""
    n, h, wd, c = x_shape
    cout, kh, kw, cg = w_shape
    g = node.attrs["groups"]
    if c != cg * g or cout % g:
        raise ValueError(f"{node.op} {node.name}: input channels {c} do not match weights "
                         f"{tuple(w_shape)} with groups={g}")
    return n, h, wd, c, cout, kh, kw


def same_padding(in_size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """SAME padding split as TFLite and ONNX SAME_UPPER do: the extra pixel goes at the end."""
    eff = (k - 1) * dilation + 1
    out = -(-in_size // stride)
    total = max(0, (out - 1) * stride + eff - in_size)
    return total // 2, total - total // 2


def conv_out_size(in_size: int, k: int, stride: int, dilation: int, pad_lo: int, pad_hi: int) -> int:
    eff = (k - 1) * dilation + 1
    return (in_size + pad_lo + pad_hi - eff) // stride + 1
