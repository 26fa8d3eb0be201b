"""QONNX (Brevitas, QKeras, mcuforge.qfx exports): `Quant`, `BipolarQuant` and `Trunc` nodes of the
`qonnx.custom_op.general` / `onnx.brevitas` domains, read as annotations like QDQ pairs are.

Semantics (qonnx's executor): q = rounding(clip(x / s + z, min_int, max_int)), y = (q - z) * s, with
min_int/max_int from the bit width, signedness and narrow range.

- On a constant (weights): the integers are stored (tensor.meta["q_int"]) with their scales
  (QuantParams, per tensor or per output channel); the float data is the exact dequantized value.
- On an activation: the tensor gets `QonnxQuant` parameters (QuantParams plus width, signedness,
  narrow range, rounding mode); a range narrower than the storage (unsigned, narrow, or < 8 bits)
  becomes a clip node, which later passes fuse into the producer's clamp.

Which backend can run what is decided later: `int8_check` (C backend: 8-bit grids, any scale, within
1 LSB) and `fixed_overrides` (FPGA backends: power-of-two scales become <W, F> types, bit-exact).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import McuforgeError, UnsupportedOpError
from ..ir.tensor import QuantParams

QONNX_DOMAINS = ("qonnx.custom_op.general", "onnx.brevitas")
# QONNX rounding modes -> the fixed contract's (None: no ap_fixed equivalent)
FIXED_ROUNDING = {"ROUND": "rne", "HALF_EVEN": "rne", "FLOOR": "trn"}
ROUNDING_FNS = {"ROUND": np.round, "HALF_EVEN": np.round, "FLOOR": np.floor, "CEIL": np.ceil,
                "ROUND_TO_ZERO": np.trunc, "DOWN": np.trunc,
                "UP": lambda v: np.sign(v) * np.ceil(np.abs(v)),
                "HALF_UP": lambda v: np.sign(v) * np.floor(np.abs(v) + 0.5),
                "HALF_DOWN": lambda v: np.sign(v) * np.ceil(np.abs(v) - 0.5)}


@dataclass
class QonnxQuant(QuantParams):
    """Per-tensor activation quantization of a QONNX Quant node (zero_point in int8 convention
    where bits <= 8, as the int8 scheme reads it; `qonnx_zp` is the node's own)."""
    bits: int = 8
    signed: bool = True
    narrow: bool = False
    rounding: str = "ROUND"
    node: str = ""
    qonnx_zp: float = 0.0

    @property
    def int_range(self) -> tuple[int, int]:
        return int_range(self.bits, self.signed, self.narrow)


def int_range(bits: int, signed: bool, narrow: bool) -> tuple[int, int]:
    if signed:
        return -(1 << (bits - 1)) + int(narrow), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1 - int(narrow)


def pot_exponent(scale) -> int | None:
    """k with scale == 2**k exactly, else None."""
    s = np.asarray(scale, np.float64).reshape(-1)
    if s.size != 1 or not s[0] > 0:
        return None
    m, e = math.frexp(float(s[0]))
    return e - 1 if m == 0.5 else None


class QonnxOps:
    """Handlers of the QONNX domains (onnx.py dispatches `qonnx_<OpType>` for those domains)."""

    def _qonnx_scalar(self, node, idx, what) -> float:
        v = self.require_const(node, idx, what)
        if v.size != 1:
            raise UnsupportedOpError(node.op_type, node.name, f"{what} must be a scalar, has shape {v.shape}")
        return float(v.reshape(-1)[0])

    def _qonnx_rounding(self, node, a) -> str:
        mode = a.get("rounding_mode", b"ROUND")
        mode = (mode.decode() if isinstance(mode, bytes) else str(mode)).upper()
        if mode not in ROUNDING_FNS:
            raise UnsupportedOpError(node.op_type, node.name, f"rounding mode {mode}")
        return mode

    def qonnx_Quant(self, node, a):
        scale = self.require_const(node, 1, "scale").astype(np.float64)
        zp = self.require_const(node, 2, "zero point").astype(np.float64)
        bits_f = self._qonnx_scalar(node, 3, "bit width")
        bits = int(bits_f)
        if bits != bits_f or not 2 <= bits <= 16:
            raise UnsupportedOpError("Quant", node.name, f"bit width {bits_f:g} (2 to 16 supported)")
        signed, narrow = bool(a.get("signed", 1)), bool(a.get("narrow", 0))
        mode = self._qonnx_rounding(node, a)
        self._qonnx_quantize(node, scale, zp, bits, signed, narrow, mode)

    def qonnx_BipolarQuant(self, node, a):
        scale = self.require_const(node, 1, "scale").astype(np.float64)
        x = self.const_value(node.input[0])
        if x is None:
            raise UnsupportedOpError("BipolarQuant", node.name, "on an activation (no sign op in the "
                                     "backends; binary weights are supported)")
        q = np.where(x >= 0, 1, -1).astype(np.int64)
        self._qonnx_const(node, x, q, scale, np.zeros_like(scale))

    def qonnx_Trunc(self, node, a):
        """Drop low bits of an already quantized value: the same as quantizing it again at the
        output scale (its input lies on the input scale's grid), with the output width."""
        scale = self.require_const(node, 1, "scale").astype(np.float64)
        zp = self.require_const(node, 2, "zero point").astype(np.float64)
        in_bits = self._qonnx_scalar(node, 3, "input bit width")
        if len(node.input) >= 6:  # Trunc v2: input scale, zero point, input bits, output scale, output bits
            out_scale = self.require_const(node, 4, "output scale").astype(np.float64)
            out_bits = self._qonnx_scalar(node, 5, "output bit width")
            signed, narrow = bool(a.get("signed", 1)), bool(a.get("narrow", 0))
        else:  # v1: output scale = scale * 2**(in_bits - out_bits), no clamp beyond the input range
            out_bits = self._qonnx_scalar(node, 4, "output bit width")
            out_scale = scale * 2.0 ** (in_bits - out_bits)
            signed, narrow = True, False
        if np.any(zp != 0):
            raise UnsupportedOpError("Trunc", node.name, "a non-zero zero point")
        self._qonnx_quantize(node, out_scale, zp, int(out_bits), signed, narrow, self._qonnx_rounding(node, a))

    # -- shared --------------------------------------------------------------------------------
    def _qonnx_quantize(self, node, scale, zp, bits, signed, narrow, mode):
        lo, hi = int_range(bits, signed, narrow)
        x = self.const_value(node.input[0])
        if x is not None:
            shape = _broadcast_shape(node, scale, x.ndim)
            s, z = scale.reshape(shape), zp.reshape(shape) if zp.size > 1 else zp.reshape(-1)[0]
            q = ROUNDING_FNS[mode](np.clip(x.astype(np.float64) / s + z, lo, hi))
            if np.any(zp != 0):
                raise UnsupportedOpError("Quant", node.name, "weights with a non-zero zero point")
            self._qonnx_const(node, x, q.astype(np.int64), scale, zp)
            # the grid's width, for sub-byte weight storage (quant.mixed.widths_from_graph)
            self.t(self.vals[node.output[0]][0]).meta["q_bits"] = (int(bits), bool(signed), bool(narrow))
            return
        if scale.size != 1 or zp.size != 1:
            raise UnsupportedOpError("Quant", node.name, "per-channel activation quantization")
        s, z = float(scale.reshape(-1)[0]), float(zp.reshape(-1)[0])
        if z != round(z):
            raise UnsupportedOpError("Quant", node.name, f"zero point {z} is not an integer")
        # int8 convention: unsigned 8-bit grids shift by 128 (q - zp is unchanged)
        zp8 = int(z) - (128 if not signed and bits <= 8 else 0)
        q = QonnxQuant(np.float64(s), zp8, None, bits=bits, signed=signed, narrow=narrow, rounding=mode,
                       node=node.name, qonnx_zp=z)
        ir, layout = self.vals[node.input[0]]
        if (lo, hi) != int_range(bits, True, False) or bits < 8:
            # the range is narrower than the type that stores it: an explicit clamp, fused later
            attrs = {"min": float((lo - z) * s), "max": float((hi - z) * s), "kind": "clip"}
            if ir in self.g.inputs:
                self.t(ir).quant = q
            ir = self.add("clip", [ir], None, attrs, name=node.name)
        t = self.t(ir)
        if t.quant is not None and not q.same_as(t.quant):
            raise McuforgeError(f"tensor {node.input[0]} quantized twice with different scales")
        t.quant = q
        self.bind(node.output[0], ir, layout)

    def _qonnx_const(self, node, x, q, scale, zp):
        axis = None
        if scale.size > 1:
            axis = int(np.argmax(_broadcast_shape(node, scale, x.ndim)))
        shape = _broadcast_shape(node, scale, x.ndim)
        real = (q - zp.reshape(shape) if zp.size > 1 else q - float(zp.reshape(-1)[0])) * scale.reshape(shape)
        quant = QuantParams(scale.reshape(-1), np.zeros(scale.size, np.int64), axis)
        self.const(node.output[0], real.astype(np.float32), quant, q_int=q)


def _broadcast_shape(node, scale: np.ndarray, ndim: int) -> tuple:
    """Shape of a scale broadcast against a rank-`ndim` value; at most one axis may be > 1."""
    if scale.size == 1:
        return (1,) * ndim
    shape = (1,) * (ndim - scale.ndim) + tuple(scale.shape)
    if len(shape) != ndim or sum(d > 1 for d in shape) != 1:
        raise UnsupportedOpError(node.op_type, node.name, f"scale of shape {scale.shape} (per tensor or "
                                 "per channel on one axis)")
    return shape
