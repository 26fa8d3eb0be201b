"""What the backends make of QONNX quantization (frontend/onnx_qonnx.py annotations).

- FPGA (`fixed`): power-of-two scales with zero point 0 are fixed-point types: a signed W-bit Quant at
  scale 2**-F is <W, F>, an unsigned one <W + 1, F> clamped at 0 (the clip the importer added);
  ROUND is round-half-to-even (`rne`, AP_RND_CONV), FLOOR truncation (`trn`); overflow saturates.
  Weights at power-of-two scales (per tensor, or per channel brought to the finest one) keep their
  integers exactly. A MAC layer without an output Quant whose input and weights are typed gets its
  exact accumulator type. Anything else raises, naming the Quant node.
- C (`int8`): any scale on grids of at most 8 bits, activations rounded to nearest (its requantization
  differs from ROUND only at ties: 1 LSB); wider grids and FLOOR/CEIL/... activations raise, naming the node.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import McuforgeError
from ..frontend.onnx_qonnx import FIXED_ROUNDING, QonnxQuant, pot_exponent
from ..ir.graph import Graph
from .fixed import PASS_THROUGH
from ..reference.fixed_arith import FixedType, bits_for_sum

MAC_OPS = ("conv2d", "dense")
NEAREST = ("ROUND", "HALF_EVEN", "HALF_UP", "HALF_DOWN")  # what int8 requantization approximates


def has_qonnx(g: Graph) -> bool:
    return any(isinstance(t.quant, QonnxQuant) for t in g.tensors.values())


def activation_type(q: QonnxQuant) -> FixedType:
    k = pot_exponent(q.scale)
    where = f"QONNX Quant {q.node}"
    if k is None:
        raise McuforgeError(f"{where}: scale {float(q.scale[0]):.6g} is not a power of two; the FPGA "
                            "backends need power-of-two scales (compile it for C, int8, instead)")
    if q.qonnx_zp != 0:
        raise McuforgeError(f"{where}: zero point {q.qonnx_zp:g}; fixed point needs zero point 0")
    if q.rounding not in FIXED_ROUNDING:
        raise McuforgeError(f"{where}: rounding mode {q.rounding} has no ap_fixed equivalent "
                            f"(ROUND and FLOOR do)")
    return FixedType(q.bits + (0 if q.signed else 1), -k, FIXED_ROUNDING[q.rounding], "sat")


def weight_type(g: Graph, node) -> FixedType | None:
    """Exact type of a MAC node's quantized weights at power-of-two scales, else None."""
    w = g.tensors[node.inputs[1]]
    if w.quant is None or "q_int" not in w.meta:
        return None
    ks = [pot_exponent(s) for s in w.quant.scale.reshape(-1)]
    if any(k is None for k in ks):
        raise McuforgeError(f"{node.op} {node.name}: weight scales are not powers of two; the FPGA "
                            "backends need power-of-two scales (compile it for C, int8, instead)")
    frac = -min(ks)
    q = np.asarray(w.meta["q_int"], np.int64)
    if w.quant.per_channel:
        shape = [1] * q.ndim
        shape[w.quant.axis] = -1
        q = q << (np.array([k + frac for k in ks], np.int64).reshape(shape))
    peak = int(np.abs(q).max(initial=0))
    width = max(2, peak.bit_length() + 1)
    return FixedType(width, frac, "rne", "sat")


SUBBYTE_QMAX = {4: 7, 2: 1}  # QONNX signed narrow grids that are the sub-byte layers' int4 / ternary


def subbyte_weights(w, bias=None):
    """A QONNX weight on a sub-byte grid (signed, narrow: 4 bits [-7, 7] or 2 bits {-1, 0, 1}) at
    power-of-two scales, per tensor or per output channel (axis 0): the FPGA sub-byte layer that
    computes it exactly, (raw integers, FixedType(bits, F), shifts) as quant/subbyte.py:
    fixed_subbyte_weights gives them (F the finest channel's binary point, s_c = F - F_c), so the
    backends emit their narrow int4 / ternary layers with per-channel shifts (mcuforge.quant.
    qat_lowbit scales="pow2" trains this form). None where it does not apply: another grid, or a
    bias with its own QONNX type that is not on the shifted channels' grids (those layers keep the
    exact wide weights of weight_type)."""
    qb, q = w.meta.get("q_bits"), w.meta.get("q_int")
    if w.quant is None or q is None or qb is None:
        return None
    bits, signed, narrow = qb
    if bits not in SUBBYTE_QMAX or not (signed and narrow) or (w.quant.per_channel and w.quant.axis != 0):
        return None
    ks = [pot_exponent(s) for s in w.quant.scale.reshape(-1)]
    if any(k is None for k in ks):
        return None  # weight_type names the layer
    q = np.asarray(q, np.int64)
    if np.abs(q).max(initial=0) > SUBBYTE_QMAX[bits]:
        return None
    fracs = -np.array(ks, np.int64)
    frac = int(fracs.max())
    shifts = (frac - fracs) if w.quant.per_channel else np.zeros(q.shape[0], np.int64)
    if shifts.any() and bias is not None and bias.quant is not None:
        return None
    return q, FixedType(bits, frac, "rnd", "sat"), shifts.astype(np.int64)


def qonnx_fixed_types(g: Graph) -> dict[str, FixedType]:
    """Overrides for quant/fixed.quantize_fixed from the model's own QONNX types."""
    types = {name: activation_type(t.quant) for name, t in g.tensors.items()
             if isinstance(t.quant, QonnxQuant) and not t.is_const}
    for n in g.topo_order():
        if (n.op == "clip" and n.inputs[0] not in types and n.outputs[0] in types
                and g.producer(n.inputs[0]) is not None):
            # the clamp of a narrow (< 8-bit or unsigned) Quant after an op it could not fuse into
            # (hardswish, concat): the op's output is that Quant's type, the clip clamps within it
            types[n.inputs[0]] = types[n.outputs[0]]
        if n.op == "avgpool" and n.outputs[0] in types:
            pass  # an average is cast into its own output type (AvgPool.run_fixed), as Brevitas quantizes it
        elif n.op in PASS_THROUGH and n.inputs[0] in types:
            src, own = types[n.inputs[0]], types.setdefault(n.outputs[0], types[n.inputs[0]])
            if own != src:
                raise McuforgeError(f"{n.op} {n.name}: its output is quantized as {own}, its input as {src}; "
                                    f"the fixed-point backends keep the input's type through {n.op}")
        if n.op not in MAC_OPS:
            continue
        wt = weight_type(g, n)
        if wt is None:
            continue
        xt, out = types.get(n.inputs[0]), n.outputs[0]
        b = g.tensors[n.inputs[2]] if len(n.inputs) > 2 and n.inputs[2] else None
        kb = pot_exponent(b.quant.scale) if b is not None and b.quant is not None else None
        if xt is not None and kb is not None and -kb > xt.frac + wt.frac:
            # a bias on a finer grid than the products (a BatchNorm's shift): the weights move to a
            # finer binary point (the same integers shifted left), so the accumulator holds it exactly
            d = -kb - xt.frac - wt.frac
            wt = FixedType(wt.width + d, wt.frac + d, wt.rounding, wt.overflow)
        types[n.inputs[1]] = wt
        if xt is not None and out not in types:
            # no output Quant: the exact accumulator (what a float forward computes, bias aside)
            w_shape = g.tensors[n.inputs[1]].shape
            terms = int(np.prod(w_shape[1:]))
            types[out] = FixedType(bits_for_sum(xt.width + wt.width, terms + 1), xt.frac + wt.frac, "rne", "sat")
    return types


def check_int8(g: Graph):
    """The C backend runs 8-bit grids: refuse wider QONNX activations and weights, naming them.
    Biases of conv / dense / transposed conv are int32 in the int8 scheme (a QDQ model's
    DequantizeLinear of an int32 bias), so they are neither activations nor weights here."""
    biases = {n.inputs[2] for n in g.nodes.values()
              if n.op in ("conv2d", "dense", "conv_transpose2d") and len(n.inputs) > 2 and n.inputs[2]}
    for name, t in g.tensors.items():
        q = t.quant
        if name in biases or not isinstance(q, QonnxQuant):
            continue
        if q.bits > 8:
            raise McuforgeError(f"QONNX Quant {q.node}: {q.bits}-bit activations; the C backend runs int8 "
                                "(use mcuforge hls/rtl with power-of-two scales for wider types)")
        if q.rounding not in NEAREST:
            raise McuforgeError(f"QONNX Quant {q.node}: rounding mode {q.rounding} on an activation; the int8 "
                                "scheme rounds to nearest (use mcuforge hls/rtl with power-of-two scales)")
    for n in g.topo_order():  # weights (input 1) are stored as int8
        w = g.tensors[n.inputs[1]] if len(n.inputs) > 1 and n.inputs[1] else None
        if w is not None and w.is_const and w.quant is not None and "q_int" in w.meta:
            peak = np.asarray(w.meta["q_int"])
            if peak.size and (peak.max() > 127 or peak.min() < -128):
                bits = int(math.ceil(math.log2(max(abs(int(peak.min())), int(peak.max()) + 1)))) + 1
                raise McuforgeError(f"{n.op} {n.name}: {bits}-bit weights; the C backend runs int8 weights "
                                    "(use mcuforge hls/rtl with power-of-two scales for wider types)")
