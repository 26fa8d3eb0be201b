"""Sub-byte weights: int4 and ternary grids, per output channel, and their packed storage.

The arithmetic stays the int8 contract (int8 activations, int32 accumulators, TFLite's
requantization); only the weight grid is narrower, so a quantized weight tensor keeps dtype int8
holding values in the narrow grid, the node records attrs["weight_bits"], and the golden model
runs unchanged. Storage (flash) packs the values:

  - int4 (weight_bits=4): symmetric per channel in [-7, 7] (narrow range, as int8's [-127, 127]:
    the grid is symmetric around 0 so the scale max|w| / 7 wastes no code on one side and
    -w is always representable; -8 is never produced). Packed two per byte over the flattened
    tensor [Cout][KH][KW][Cin] / [Cout][K], element 2i in the low nibble and 2i+1 in the high
    nibble, the last byte zero-padded: TFLite's dense int4 packing (PackInt4ValuesDensely).
  - ternary (weight_bits=2): {-1, 0, +1} x per-channel scale, BitNet b1.58's absmean
    (scale = mean |w| of the channel, q = clip(round(w / scale), -1, 1)) or the median of |w|
    ('BitNet b1.58 Reloaded'). Packed four per byte in the same order (element 4i + j in bits
    2j..2j+1) as 2-bit two's complement (0 -> 00, +1 -> 01, -1 -> 11): a field f sign-extends
    with ((f ^ 2) - 2), one shift, one mask and two ALU ops in the portable kernel, and the packed
    order is the flat weight order, so byte and field of element i are i >> 2 and i & 3.
    Where the kernel reads a layer's ternary weights in order, the C library stores them five a
    byte in base 3 instead (pack_base3; codegen/c/layers/subbyte.py chooses per layer).
Optimized kernel variants may reorder the packed fields at compile time; they never widen them.
The sub-byte scales are nudged (mult16_scales) so that the requantization multipliers have 16-bit
mantissas, which the C library then stores as uint16.
"""
from __future__ import annotations

import numpy as np

from ..errors import McuforgeError
from ..ir.tensor import QuantParams

WEIGHT_BITS = (8, 4, 2)
TERNARY_METHODS = ("absmean", "median")
QMAX = {8: 127, 4: 7, 2: 1}
# ops whose weights may take a sub-byte grid (the C backend has kernels for them)
SUBBYTE_OPS = ("conv2d", "dense")


def grid_max(bits: int) -> int:
    return QMAX[bits]


def resolve_weight_bits(g, weight_bits) -> dict[str, int]:
    """{node name: bits} for every weight layer: an int applies to each conv2d / dense (others
    keep 8 bits), a dict names layers (unnamed ones keep 8). Bad widths and names fail here."""
    from .int8 import WEIGHT_OPS
    layers = [n for n in g.topo_order() if n.op in WEIGHT_OPS]
    out = {n.name: 8 for n in layers}
    if weight_bits is None:
        return out
    if isinstance(weight_bits, dict):
        by_name = {n.name: n for n in layers}
        for name, bits in weight_bits.items():
            if name not in by_name:
                known = ", ".join(sorted(by_name)) or "none"
                raise McuforgeError(f"weight_bits names {name!r}, which is not a weight layer (layers: {known})")
            _check_bits(bits, name)
            if bits < 8 and by_name[name].op not in SUBBYTE_OPS:
                raise McuforgeError(f"node {name} ({by_name[name].op}): no {bits}-bit weight kernel; "
                                    f"sub-byte weights exist for {', '.join(SUBBYTE_OPS)}")
            out[name] = int(bits)
        return out
    _check_bits(weight_bits, "every layer")
    if int(weight_bits) < 8 and not any(n.op in SUBBYTE_OPS for n in layers):
        have = ", ".join(f"{n.name} ({n.op})" for n in layers)
        raise McuforgeError(f"--weight-bits {int(weight_bits)}: the model has no conv / fully connected layer "
                            f"with constant weights to narrow" + (f" ({have} keep 8 bits: no sub-byte kernel)"
                                                                  if have else "")
                            + "; compile it without --weight-bits")
    for n in layers:
        if n.op in SUBBYTE_OPS:
            out[n.name] = int(weight_bits)
    return out


def _check_bits(bits, where):
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or int(bits) not in WEIGHT_BITS:
        raise McuforgeError(f"weight bits for {where} must be one of 8, 4, 2 (2 = ternary), not {bits!r}")


def channel_scales(w: np.ndarray, bits: int, ternary_method: str = "absmean",
                   per_channel: bool = True) -> np.ndarray:
    """The float scale of each output channel (axis 0) for the given grid."""
    a = np.abs(w.reshape(w.shape[0], -1)).astype(np.float64)
    if bits == 2:
        if ternary_method not in TERNARY_METHODS:
            raise McuforgeError(f"ternary_method must be one of {', '.join(TERNARY_METHODS)}, not {ternary_method!r}")
        if not per_channel:
            a = a.reshape(1, -1)
        s = a.mean(axis=1) if ternary_method == "absmean" else np.median(a, axis=1)
        if ternary_method == "median":
            # a channel with mostly zeros has median 0: fall back to its absmean
            s = np.where(s > 0, s, a.mean(axis=1))
        s = np.broadcast_to(s, (w.shape[0],)) if not per_channel else s
        return np.where(s > 0, s, 1.0)
    m = a.max(axis=1, initial=0.0)
    if not per_channel:
        m = np.full_like(m, m.max(initial=0.0))
    return np.where(m > 0, m / grid_max(bits), 1.0)


def quantize_to_grid(w: np.ndarray, scale: np.ndarray, bits: int) -> np.ndarray:
    shape = (-1,) + (1,) * (w.ndim - 1)
    q = np.clip(np.round(w / np.asarray(scale, np.float64).reshape(shape)), -grid_max(bits), grid_max(bits))
    return q.astype(np.int8)


def quantize_weights_bits(w: np.ndarray, bits: int, per_channel: bool = True,
                          ternary_method: str = "absmean") -> tuple[np.ndarray, QuantParams]:
    """Symmetric per output channel on the grid of `bits` (8: [-127, 127], 4: [-7, 7], 2: {-1, 0, 1})."""
    scale = channel_scales(w, bits, ternary_method, per_channel)
    return quantize_to_grid(w, scale, bits), QuantParams(scale, np.zeros_like(scale, np.int64), axis=0)


MULT16_BITS = 16      # significant bits of a sub-byte layer's requantization multiplier (C: uint16)


def mult16_scales(w_scale, s_in: float, s_out: float) -> np.ndarray:
    """Per-channel weight scales nudged up (by less than 2^-15, relative) so that each channel's
    requantization multiplier s_in * s_w / s_out has a mantissa of MULT16_BITS bits: its Q31 form
    (TFLite's QuantizeMultiplier) then ends in 15 zero bits and the C library stores it as a
    uint16 (codegen/c/layers/subbyte.py), exactly. The grid (int4 max|w| / 7, ternary gamma) is
    ours to choose, so the golden model runs these scales; scales given by a model (TFLite INT4,
    QDQ int4) are never nudged, and the C side keeps int32 multipliers where they are not exact."""
    import math
    from ..reference.arith import quantize_multiplier
    ws = np.array(w_scale, np.float64, ndmin=1)
    if not (s_in > 0 and s_out > 0):
        return ws
    low = (1 << (31 - MULT16_BITS)) - 1
    for i, s in enumerate(ws):
        real = s_in * float(s) / s_out
        if not (real > 0 and math.isfinite(real)):
            continue
        mant, e = math.frexp(real)
        k = math.ceil(mant * (1 << MULT16_BITS))
        target = math.ldexp(k, e - MULT16_BITS)           # exact: k has MULT16_BITS + 1 bits at most
        cand = target * s_out / s_in
        for _ in range(4):                                # float rounding of the product: nudge by ulps
            m, _sh = quantize_multiplier(s_in * cand / s_out)
            if m & low == 0:
                break
            cand = math.nextafter(cand, math.inf if s_in * cand / s_out < target else -math.inf)
        else:
            continue                                      # not exact: the C side keeps int32 here
        ws[i] = cand
    return ws


def mult16_exact(mult) -> bool:
    """Every Q31 multiplier of the layer has MULT16_BITS significant bits (the uint16 storage)."""
    m = np.asarray(mult, np.int64)
    return bool(((m >= 0) & (m & ((1 << (31 - MULT16_BITS)) - 1) == 0)).all())


def check_grid(q: np.ndarray, bits: int, where: str = ""):
    m = grid_max(bits)
    if q.size and (q.min() < -m or q.max() > m):
        raise McuforgeError(f"{where}weights outside the {bits}-bit grid [-{m}, {m}]: [{q.min()}, {q.max()}]")


def pack_weights(q: np.ndarray, bits: int) -> np.ndarray:
    """Flattened int8 values of the grid -> packed bytes (uint8), low field first (module doc)."""
    flat = np.asarray(q, np.int64).reshape(-1)
    if bits == 8:
        return flat.astype(np.int8).view(np.uint8)
    check_grid(flat, bits)
    per = 8 // bits
    n = -(-flat.size // per) * per
    fields = np.zeros(n, np.uint32)
    fields[:flat.size] = flat & ((1 << bits) - 1)
    fields = fields.reshape(-1, per) << (bits * np.arange(per, dtype=np.uint32))
    return fields.sum(axis=1).astype(np.uint8)


def unpack_weights(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    """Inverse of pack_weights: `count` int8 values."""
    b = np.asarray(packed, np.uint8).reshape(-1)
    if bits == 8:
        return b.view(np.int8)[:count].copy()
    per = 8 // bits
    fields = (b[:, None].astype(np.int32) >> (bits * np.arange(per))) & ((1 << bits) - 1)
    half = 1 << (bits - 1)
    return ((fields ^ half) - half).reshape(-1)[:count].astype(np.int8)


def pack_base3(q: np.ndarray) -> np.ndarray:
    """Ternary values, five a byte (1.6 bits a weight; 3^5 = 243 <= 256), over the flattened
    tensor: trits t = w + 1 of elements 5i..5i+4 form v = sum t_j 3^(4-j) (the first element most
    significant) and the byte is ceil(256 v / 243). Decoding needs no table and no division:
    q = byte; five times q = 3 q, t = q >> 8, q &= 255 gives t_0..t_4 in order (q / 256 lies in
    [v / 243, (v + 1) / 243), so floor(q 3^k / 256) = floor(v 3^k / 243), the first k trits).
    The last byte is padded with zeros (w = 0)."""
    flat = np.asarray(q, np.int64).reshape(-1)
    check_grid(flat, 2)
    n = -(-flat.size // 5) * 5
    t = np.ones(n, np.int64)
    t[:flat.size] = flat + 1
    v = (t.reshape(-1, 5) * np.array([81, 27, 9, 3, 1], np.int64)).sum(axis=1)
    return ((v * 256 + 242) // 243).astype(np.uint8)


def unpack_base3(packed: np.ndarray, count: int) -> np.ndarray:
    """Inverse of pack_base3 (by the decoder's multiply-by-3 steps): `count` int8 values."""
    q = np.asarray(packed, np.uint8).reshape(-1).astype(np.int64)
    out = np.empty((q.size, 5), np.int64)
    for j in range(5):
        q = q * 3
        out[:, j] = (q >> 8) - 1
        q &= 255
    return out.reshape(-1)[:count].astype(np.int8)


def packed_nbytes(count: int, bits: int) -> int:
    return -(-count * bits // 8)


def narrow_int8_graph(g, weight_bits, ternary_method: str = "absmean"):
    """An int8 graph (from an int8 .tflite) with the chosen layers' weights moved onto a narrower
    grid: the dequantized int8 weights are quantized again per channel, the int32 bias follows the
    new scale (b * s_w / s_w'), activations keep their quantization."""
    bits_of = resolve_weight_bits(g, weight_bits)
    wide = [n for n in g.topo_order() if bits_of.get(n.name, 8) < 8 and g.tensors[n.inputs[0]].dtype != "int8"]
    if wide:
        n = wide[0]
        raise McuforgeError(f"node {n.name} ({n.op}): {bits_of[n.name]}-bit weights need int8 activations, this "
                            f"layer's are {g.tensors[n.inputs[0]].dtype} (16x8 layers have int8 weight kernels "
                            f"only); compile without --weight-bits")
    g = g.copy()
    for n in g.topo_order():
        bits = bits_of.get(n.name)
        if bits is None:
            continue
        n.attrs["weight_bits"] = int(n.attrs.get("weight_bits", 8)) if bits == 8 else bits
        if bits == 8:
            continue
        w = g.tensors[n.inputs[1]]
        cout = w.shape[0]
        old = np.broadcast_to(np.asarray(w.quant.scale, np.float64), (cout,))
        deq = w.data.astype(np.float64) * old.reshape((-1,) + (1,) * (w.data.ndim - 1))
        q, wq = quantize_weights_bits(deq, bits, True, ternary_method)
        scale = mult16_scales(wq.scale, g.tensors[n.inputs[0]].quant.s, g.tensors[n.outputs[0]].quant.s)
        q, wq = quantize_to_grid(deq, scale, bits), QuantParams(scale, np.zeros(cout, np.int64), axis=0)
        ins = list(n.inputs)
        ins[1] = g.const(w.name + f"_w{bits}", q, "int8", wq).name
        if len(ins) > 2 and ins[2]:
            b = g.tensors[ins[2]]
            s_in = g.tensors[n.inputs[0]].quant.s
            bias_scale = s_in * wq.scale
            bq = np.round(b.data.astype(np.float64) * old / wq.scale)
            if np.abs(bq).max(initial=0) >= 2 ** 31:
                raise McuforgeError(f"node {n.name}: bias does not fit int32 at {bits}-bit weight scales")
            ins[2] = g.const(b.name + f"_w{bits}", bq.astype(np.int32), "int32",
                             QuantParams(bias_scale, np.zeros(cout, np.int64), axis=0)).name
        g.set_inputs(n, ins)
    g.prune_tensors()
    return g


def fixed_subbyte_weights(w: np.ndarray, bits: int, ternary_method: str = "absmean", per_channel: bool = True):
    """The FPGA (fixed-point) form of a sub-byte layer: raw values on the C backend's grids, int4
    [-7, 7] or ternary {-1, 0, 1}, each output channel (axis 0) c with its own power-of-two scale
    2^-F_c. The scheme stores them as one FixedType(bits, F) with F = max F_c (the finest channel)
    and a left shift s_c = F - F_c >= 0 per channel: the real weight is raw * 2^s_c * 2^-F, and the
    hardware multiplies by the raw value and shifts the channel's accumulator left by s_c once, after
    the last product (reference/fixed_arith.py: mac_params / shift_products).

    F_c is the least-squares choice among the nearest candidates: int4, F0 (the largest F with
    max|w_c| * 2^F <= 7.5, nothing clips) or F0 + 1 (a finer grid that clips the largest weights);
    ternary, the power of two nearest (in log) to the channel's mean (or median) |w|, or the one on
    either side. per_channel=False gives every channel the layer's one scale (the earlier rule:
    F0 of the whole tensor for int4, the nearest power of two to the layer's absmean / median for
    ternary) and all shifts 0.
    Returns (raw int64 values, FixedType(bits, F), shifts: int64 [Cout])."""
    import math
    from ..reference.fixed_arith import FixedType
    if bits not in (4, 2):
        raise McuforgeError(f"fixed sub-byte weights are 4 or 2 bits, not {bits}")
    w = np.asarray(w, np.float64)
    cout = w.shape[0]
    rows = w.reshape(cout, -1)
    m = grid_max(bits)

    def start(a: np.ndarray) -> int:
        """The rule's exponent for the values a (one channel, or the whole layer)."""
        if bits == 4:
            top = float(np.abs(a).max(initial=0.0))
            return math.floor(math.log2(7.5 / top)) if top > 0 else 0
        s = float(channel_scales(a.reshape(1, -1), 2, ternary_method, per_channel=False)[0])
        return round(-math.log2(s))

    def on_grid(a: np.ndarray, f: int) -> np.ndarray:
        return np.clip(np.floor(np.ldexp(a, f) + 0.5), -m, m)  # round half up, as the fixed scheme's "rnd"

    if not per_channel:
        fracs = np.full(cout, start(rows))
    else:
        fracs = np.zeros(cout, np.int64)
        for c in range(cout):
            if not np.any(rows[c]):
                continue  # an all-zero channel: any scale; its shift stays 0 below
            f0 = start(rows[c])
            cands = (f0, f0 + 1) if bits == 4 else (f0 - 1, f0, f0 + 1)
            err = [float(((np.ldexp(on_grid(rows[c], f), -f) - rows[c]) ** 2).sum()) for f in cands]
            fracs[c] = cands[int(np.argmin(err))]
    live = np.array([np.any(r) for r in rows])
    frac = int(fracs[live].max()) if live.any() else int(fracs.max(initial=0))
    fracs = np.where(live, fracs, frac)
    raw = np.stack([on_grid(rows[c], int(fracs[c])) for c in range(cout)]).reshape(w.shape)
    return raw.astype(np.int64), FixedType(bits, frac, "rnd", "sat"), (frac - fracs).astype(np.int64)
