"""conv2d / depthwise / dense layers with int4 or ternary weights (attrs["weight_bits"] < 8).

The kernels (runtime_c/include/mcf_subbyte.h) take their own argument structs: packed weights
(quant/subbyte.py) and compact per-channel constants (int32 bias and multiplier, int8 shift).
An optimized variant's `prepare` may return replacements for these arrays by name (e.g. the
weights reordered into its block layout); it never adds wider copies.

The portable and tuned (_fast) kernels also read narrower constants, chosen here per layer when
the values allow it (mcf_sub_bias / mcf_sub_mult): int16 biases when every bias fits, and the
multiplier as uint16 (its Q31 form >> 15) when every one ends in 15 zero bits (the quantizer's
sub-byte scales are chosen so, quant/subbyte.py: mult16_scales). So do the Helium (_mve) variants
(their folded biases) and the DSP ones (multipliers; biases but in the FC, see reads_compact).

Ternary weights are stored five a byte in base 3 (quant/subbyte.py: pack_base3, 1.6 bits a
weight instead of 2) where the chosen kernel decodes them in order at no extra cost: the portable
kernels, the _fast depthwise (a channel's taps unpacked once) and the _fast convolution / FC
rows that are not whole 32-bit words (unpacked per row) or a single row. Rows of whole words
keep the 2-bit fields, which the _fast convolution reads straight from the word, and the _dsp /
_mve variants keep their layouts (`params["base3"]` tells the kernel; the Helium ternary
convolution has a base-3 layout of its own, variants/dsp_subbyte.py: mve_sub_layout3)."""
from __future__ import annotations

import numpy as np

from ....errors import McuforgeError
from ....ir.ops import get_op
from ....quant.subbyte import MULT16_BITS, check_grid, mult16_exact, pack_base3, pack_weights
from ..kernel_select import scratch_budget_into
from .base import Layer

TEMPLATES = {"conv2d_s8": "conv2d_sub", "dense_s8": "dense_sub"}


def subbyte_weighted(ctx, node, cid, template: str, kernel: str, geometry: dict, p: dict, bias) -> Layer:
    g = ctx.g
    w = g.tensors[node.inputs[1]]
    bits = int(node.attrs["weight_bits"])
    check_grid(w.data, bits, f"node {node.name}: ")
    shift = np.asarray(p["shift"], np.int64)
    if shift.size and (shift.min() < -31 or shift.max() > 31):
        raise McuforgeError(f"node {node.name}: requantization shift {int(shift.min())}..{int(shift.max())} "
                            f"outside -31..31")
    kernel = f"{kernel}_w{bits}"
    rq = {"in_zp": p["in_zp"], "out_zp": p["out_zp"], "act_min": p["act_min"], "act_max": p["act_max"]}
    params = dict(geometry, rq=rq, has_bias=bias is not None, weight_bits=bits)
    consts = {"weights": w.data, "bias": bias, "mult": p["mult"], "shift": p["shift"]}
    scratch_budget_into(ctx, params)        # a variant's accepts may weigh it (dsp_subbyte_rdx.py)
    variant = ctx.select.choose(kernel, dict(params, consts=consts))
    arrays = {"weights": ("uint8_t", pack_weights(w.data, bits)),
              "mult": ("int32_t", p["mult"]), "shift": ("int8_t", p["shift"])}
    if bias is not None:
        arrays["bias"] = ("int32_t", bias)
    if variant.prepare is not None:
        for what, value in (variant.prepare(params, consts) or {}).items():
            if what not in arrays and what != "bias":
                raise ValueError(f"{variant.function}: prepare may only replace {sorted(arrays)}, not {what!r}")
            if value is None:           # dropped (a variant whose constants are all in `bias`)
                arrays.pop(what)
                continue
            arrays[what] = value
    if reads_compact(variant.function, bits):
        compact_constants(arrays, params)
    if bits == 2 and reads_base3(variant.function, params, int(np.prod(w.shape[1:]))):
        packed = pack_base3(w.data)
        if packed.size < arrays["weights"][1].size:
            arrays["weights"] = ("uint8_t", packed)
            params["base3"] = True
    return Layer(node, TEMPLATES[template], variant.function, list(variant.sources), [ctx.refs[node.inputs[0]]],
                 [ctx.refs[node.outputs[0]]], params,
                 [ctx.array(cid, what, ctype, np.asarray(values).reshape(-1)) for what, (ctype, values) in arrays.items()],
                 macs=get_op(node.op).macs(node, g))


def reads_compact(function: str, bits: int) -> bool:
    """The portable kernel (mcf_..._w4), its tuned C variant (_fast) and the Helium ones (_mve)
    read int16 biases and uint16 multipliers (runtime_c/include/mcf_subbyte_ref.h,
    mcf_subbyte_mve_quant.h); the DSP ones uint16 multipliers, and int16 biases in the
    convolution and depthwise (the fully connected one sets params["bias32"])."""
    return function.endswith((f"_w{bits}", f"_w{bits}_fast", f"_w{bits}_mve", f"_w{bits}_dsp", f"_w{bits}_dsp_lsh",
                                  f"_w{bits}_dsp_lss", f"_w{bits}_dsp_rdx", f"_w{bits}_pair",
                                  f"_w{bits}_fastu"))


def compact_constants(arrays: dict, params: dict):
    """int32 bias -> int16 when every value fits (unless the kernel reads int32 biases only:
    params["bias32"]); Q31 multipliers -> uint16 (>> 15) when exact."""
    if "bias" in arrays and not params.get("bias32"):
        b = np.asarray(arrays["bias"][1], np.int64)
        if b.size == 0 or (np.abs(b).max() <= 2 ** 15 - 1):
            arrays["bias16"] = ("int16_t", b.astype(np.int16))
            del arrays["bias"]
            params["has_bias"], params["bias16"] = False, True
    if "mult" in arrays and mult16_exact(arrays["mult"][1]):
        m = np.asarray(arrays["mult"][1], np.int64) >> (31 - MULT16_BITS)
        arrays["mult16"] = ("uint16_t", m.astype(np.uint16))
        del arrays["mult"]
        params["mult16"] = True


def reads_base3(function: str, params: dict, k: int) -> bool:
    """Kernels that read ternary weights five a byte in order (mcf_trits in mcf_subbyte_ref.h):
    the portable ones, the _fast depthwise, and the _fast convolution / FC when its rows are not
    whole 32-bit words (it unpacks each row) or there is a single row."""
    if function.endswith("_w2") or function.startswith("mcf_depthwise_conv2d_s8_w2_fast"):
        return True
    if function.endswith("_w2_fast"):
        win = params.get("win")
        pixels = win["batch"] * win["out_h"] * win["out_w"] if win else params["rows"]
        return pixels == 1 or (k * 2) % 32 != 0
    return False
