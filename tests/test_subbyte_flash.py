"""Issue 13's flash bar for sub-byte weights (<= 0.55x int4, <= 0.3x ternary of int8, packed
weights + bias + multiplier + shift of every conv / depthwise / dense layer, the portable
storage on both sides): the compact per-channel constants (int16 bias where it fits, the
multiplier as a 16-bit mantissa, int8 shift; codegen/c/layers/subbyte.py) and the quantizer's
scales that make the 16-bit multiplier exact (quant/subbyte.py: mult16_scales).

Per target too: what the Cortex-M55 (Helium) and M4 (DSP) libraries ship against the same
target's int8 build; the Helium kernels read the compact constants (mcf_subbyte_mve_quant.h) and
the ternary convolution base-3 weights (mve_sub_layout3), the DSP ones 16-bit multipliers."""
from __future__ import annotations

import re

import numpy as np
import pytest

from mcuforge.api import compile_model, simulate
from mcuforge.codegen.c.layers.subbyte import compact_constants
from mcuforge.quant.subbyte import mult16_exact, mult16_scales, pack_base3, unpack_base3
from mcuforge.reference.arith import quantize_multiplier

from kernels.layer_models import build_chain
from test_subbyte import BOARDS, _toolchain

BAR = {4: 0.55, 2: 0.3}
# a small DS-CNN shaped as kws_dscnn's body (3x3 conv, then depthwise 3x3 + pointwise pairs, 64
# channels): the depthwise layers' 9 weights a channel make the per-channel constants count
# (ternary 0.295x here; with kws's sizes but 16-32 channels the constants alone push it over 0.3)
DSCNN = [("conv", 32, 3, 2), ("dw", 3, 1), ("pw", 64), ("dw", 3, 1), ("pw", 64), ("dw", 3, 1), ("pw", 64)]


def weight_layer_bytes(info) -> int:
    """The conv / depthwise / dense layers' flash, each layer once: the copies a patch-based schedule
    makes of a layer (node@p0, node@p1, ...; schedule/patches.py) share its arrays."""
    layers = {l["name"].split("@p")[0]: l["weight_bytes"] for l in info["layers"] if l["op"] in ("conv2d", "dense")}
    return sum(layers.values())


def test_mult16_scales_exact_and_close():
    """Nudged scales: never smaller, less than 2^-15 larger, and every Q31 multiplier they give
    ends in 15 zero bits (the uint16 storage is exact)."""
    rng = np.random.default_rng(1)
    for _ in range(2000):
        s_in, s_out = np.exp(rng.uniform(-8, 2, size=2))
        ws = np.exp(rng.uniform(-12, 1, size=4))
        new = mult16_scales(ws, float(s_in), float(s_out))
        assert (new >= ws).all() and (new / ws - 1 < 2 ** -15).all()
        mults = [quantize_multiplier(float(s_in) * float(w) / float(s_out))[0] for w in new]
        assert mult16_exact(mults), mults
    assert not mult16_exact([(1 << 30) + 1])


def test_base3_packing():
    """Five trits a byte: b = ceil(256 v / 243), v = sum (w_j + 1) 3^(4 - j); every byte value the
    packing makes decodes by the kernels' multiply-by-3 steps; round trips of any length."""
    assert pack_base3(np.array([1, -1, 0, 1, -1], np.int8)).tolist() == [187]       # v = 177
    assert pack_base3(np.array([-1, -1, -1, -1, -1, 1], np.int8)).tolist() == [0, 213]   # v = 0; 2,1,1,1,1 = 202
    rng = np.random.default_rng(3)
    for n in range(1, 64):
        q = rng.integers(-1, 2, n).astype(np.int8)
        p = pack_base3(q)
        assert p.size == -(-n // 5)
        np.testing.assert_array_equal(unpack_base3(p, n), q)
    every = np.array([[(v // 3 ** (4 - j)) % 3 - 1 for j in range(5)] for v in range(243)], np.int8)
    np.testing.assert_array_equal(unpack_base3(pack_base3(every), every.size), every.reshape(-1))


def test_compact_constants_per_layer():
    """int16 biases only when every bias fits; uint16 multipliers only when exact; else int32."""
    m16 = np.array([1 << 30, 0xBEEF << 15], np.int64)
    arrays = {"bias": ("int32_t", np.array([32767, -32767])), "mult": ("int32_t", m16),
              "shift": ("int8_t", np.array([-3, -4]))}
    params = {"has_bias": True}
    compact_constants(arrays, params)
    assert arrays["bias16"][0] == "int16_t" and arrays["bias16"][1].tolist() == [32767, -32767]
    assert arrays["mult16"][1].tolist() == [1 << 15, 0xBEEF] and "bias" not in arrays and "mult" not in arrays
    assert params == {"has_bias": False, "bias16": True, "mult16": True}
    arrays = {"bias": ("int32_t", np.array([40000, 1])), "mult": ("int32_t", m16 + 1),
              "shift": ("int8_t", np.array([-3, -4]))}
    params = {"has_bias": True}
    compact_constants(arrays, params)
    assert set(arrays) == {"bias", "mult", "shift"} and params == {"has_bias": True}


@pytest.mark.parametrize("bits", [2, 4])
def test_dscnn_flash_bar_and_bit_exact_m0(tmp_path, bits):
    """A small DS-CNN at ternary / int4: the weight layers' flash as the Cortex-M0 build ships it
    (the tuned portable kernels and _pair, compact constants) against the int8 portable build, under the
    bar; the compact arrays are really in the weights file; golden == QEMU Cortex-M0 bit for bit."""
    target = "cortex-m0"
    _toolchain(BOARDS[target])
    model, calib, x = build_chain(3, 12, DSCNN, tmp_path / "dscnn.onnx")
    i8 = compile_model(model, tmp_path / "w8", calib=calib, quiet=True, portable_kernels=True)
    sb = compile_model(model, tmp_path / f"w{bits}", target=target, calib=calib, quiet=True, weight_bits=bits)
    layers = [l for l in sb.info["layers"] if l["op"] in ("conv2d", "dense")]
    # the pointwise layers (and the ternary first conv) on _pair (test_subbyte_m0m3_conv.py), the depthwise
    # ones on _fastu (test_subbyte_m0m3_dw.py)
    assert all(l["kernel"].endswith(("_fast", "_fastu", "_pair")) for l in layers), layers
    pair = sum(l["kernel"].endswith("_pair") for l in layers)
    assert pair == (4 if bits == 2 else 3), layers
    ratio = weight_layer_bytes(sb.info) / weight_layer_bytes(i8.info)
    assert ratio <= BAR[bits], ratio
    src = next((tmp_path / f"w{bits}").glob("*_weights.c")).read_text()
    # _pair's folded bias (mcf_subbyte_pair.h) is int16 only where it fits (ternary here), the others' always
    b16 = len(re.findall(r"const int16_t \w+_bias16\[", src))
    assert b16 == (len(layers) if bits == 2 else len(layers) - pair)
    assert len(re.findall(r"const int32_t \w+_bias\[", src)) == len(layers) - b16
    assert len(re.findall(r"const uint16_t \w+_mult16\[", src)) == len(layers)
    assert not re.search(r"const int32_t \w+_mult\[", src)
    if bits == 2:
        # base 3 (5 a byte) where the _fast kernel reads rows in order: the depthwise layers; the
        # _pair layers keep 2-bit fields, the first conv (k = 27) padded to 32
        sizes = {int(n): int(v) for n, v in re.findall(r"_L(\d+)_weights\[(\d+)\]", src)}
        assert sorted(sizes.values()) == sorted([32 * 32 // 4] + [-(-64 * 9 // 5)] * 2 + [-(-32 * 9 // 5)] +
                                                [32 * 64 // 4] + [64 * 64 // 4] * 2), sizes
    y, _ = simulate(tmp_path / f"w{bits}", board=BOARDS[target], x=x, quiet=True)
    ref, _ = simulate(tmp_path / f"w{bits}", board="reference", x=x, quiet=True)
    np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("model", ["kws_dscnn_int8", pytest.param("vww_mbv1_96_int8", marks=pytest.mark.slow)])
def test_mlperf_flash_bar(tmp_path, model):
    """The MLPerf Tiny int8 models narrowed to int4 / ternary (narrow_int8_graph), portable kernels
    on both sides: int4 <= 0.55x and ternary <= 0.3x of int8 (measured kws 0.480 / 0.290, vww
    0.493 / 0.279; before the compact constants 0.561 / 0.371 and 0.534 / 0.318)."""
    from mlperf_data import model_path
    path = model_path(model)
    size = {b: weight_layer_bytes(compile_model(path, tmp_path / str(b), quiet=True, weight_bits=b,
                                                portable_kernels=True).info) for b in (8, 4, 2)}
    assert size[4] <= BAR[4] * size[8] and size[2] <= BAR[2] * size[8], size


def _mlperf_sizes(tmp_path, model: str, target: str, portable: bool = False, widths=(8, 4, 2)) -> dict:
    from mlperf_data import model_path
    path = model_path(model)
    return {b: weight_layer_bytes(compile_model(path, tmp_path / f"{target}_{portable}_{b}", target=target, quiet=True,
                                                weight_bits=b, portable_kernels=portable).info) for b in widths}


# ratios measured with this tree (docs/subbyte.md), against the same target's int8 build
@pytest.mark.parametrize("model,target", [
    ("kws_dscnn_int8", "cortex-m55"),
    ("kws_dscnn_int8", "cortex-m4"),
    pytest.param("kws_dscnn_int8", "cortex-m3", marks=pytest.mark.slow),
    *[pytest.param(m, t, marks=pytest.mark.slow) for m in ("vww_mbv1_96_int8", "ic_resnet8_int8", "ad_fcae_int8")
      for t in ("cortex-m55", "cortex-m4", "cortex-m3")],
])
def test_mlperf_flash_bar_per_target(tmp_path, model, target):
    """The library a user compiles for their own core, every weight layer at int4 / ternary, against
    the int8 library of the same core: int4 <= 0.55x, ternary <= 0.3x (the int8 DSP / tuned-C
    builds widen weights to int16 and the int8 Helium build pads them and keeps 20 bytes of
    constants a channel, so this is the easier side), and against the portable int8 storage (1
    byte a weight + 12 a channel), the harder side (measured at most 0.518 / 0.294: ad int4 / kws
    ternary on M4)."""
    size = _mlperf_sizes(tmp_path, model, target)
    assert size[4] <= BAR[4] * size[8] and size[2] <= BAR[2] * size[8], size
    portable8 = _mlperf_sizes(tmp_path, model, "cortex-m4", portable=True, widths=(8,))[8]
    assert size[4] <= BAR[4] * portable8 and size[2] <= BAR[2] * portable8, (size, portable8)


@pytest.mark.parametrize("bits,target", [(2, "cortex-m55"), pytest.param(4, "cortex-m55", marks=pytest.mark.slow),
                                         pytest.param(2, "cortex-m4", marks=pytest.mark.slow)])
def test_dscnn_compact_constants_optimized(tmp_path, bits, target):
    """The small DS-CNN on the Helium (M55) / DSP (M4) kernels: every layer's multipliers as uint16
    and (folded) biases as int16 (no int32 bias or multiplier array left), the ternary Helium
    convolutions in base 3; under the bar against the same core's int8 build; golden == QEMU bit
    for bit."""
    board = BOARDS[target]
    _toolchain(board)
    model, calib, x = build_chain(3, 12, DSCNN, tmp_path / "dscnn.onnx")
    i8 = compile_model(model, tmp_path / "w8", target=target, calib=calib, quiet=True)
    sb = compile_model(model, tmp_path / f"w{bits}", target=target, calib=calib, quiet=True, weight_bits=bits)
    layers = [l for l in sb.info["layers"] if l["op"] in ("conv2d", "dense")]
    kind = "_mve" if target == "cortex-m55" else ("_dsp", "_dsp_lsh", "_dsp_lss")
    assert all(l["kernel"].endswith(kind) for l in layers), [l["kernel"] for l in layers]
    ratio = weight_layer_bytes(sb.info) / weight_layer_bytes(i8.info)
    assert ratio <= BAR[bits], ratio
    src = next((tmp_path / f"w{bits}").glob("*_weights.c")).read_text()
    assert len(re.findall(r"const uint16_t \w+_mult16\[", src)) == len(layers)
    assert not re.search(r"const int32_t \w+_mult\[", src)
    assert len(re.findall(r"const int16_t \w+_bias16\[", src)) == len(layers)
    assert not re.search(r"const int32_t \w+_bias\[", src)
    if target == "cortex-m55":
        if bits == 2:           # base 3 for the convolutions: ceil(vectors / 5) * 16 bytes
            sizes = {int(n): int(v) for n, v in re.findall(r"_L(\d+)_weights\[(\d+)\]", src)}
            assert sorted(sizes.values())[-1] == -(-64 * 64 // 16 // 5) * 16, sizes
    y, _ = simulate(tmp_path / f"w{bits}", board=board, x=x, quiet=True)
    ref, _ = simulate(tmp_path / f"w{bits}", board="reference", x=x, quiet=True)
    np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("bits", [2, pytest.param(4, marks=pytest.mark.slow)])
def test_helium_conv_left_shift(tmp_path, bits):
    """Cortex-M55 convolutions (3x3 and 1x1, partial groups of 4 channels) with left- and
    right-shift channels: the modes each block's expanded constants take (mcf_sub_mve_quant_conv),
    against tflite-micro (test_subbyte_lsh's oracle), golden == QEMU."""
    from test_subbyte_lsh import check_lsh, conv_chain
    kernels = check_lsh(tmp_path, bits, "cortex-m55", "mps3-an547", model=conv_chain)
    assert kernels == [f"mcf_conv2d_s8_w{bits}_mve"] * 2, kernels
