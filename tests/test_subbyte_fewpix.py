"""Few-pixel sub-byte convolutions over one block on the DSP extension: the radix form
(codegen/c/variants/dsp_subbyte_rdx.py, runtime_c/include/mcf_subbyte_dsp_rdx.h).

The block holds per group of G = 4 (int4) / 8 (ternary) channels the raw radix halfwords and their
prefixes (fields above j cleared); the int8 GEMM loop runs them with its accumulators stored raw
(mcf_conv2d_s8_dsp_run_acc, transposed over the pixel pairs), and a decode pass takes neighbouring
differences, removes o S and requantizes with the multiplier divided by the field's scale. Checked
here: the arithmetic in numpy with the kernel's wrapping int32 sums, at the exactness bound
(rdx_ok) and beyond it; the choice by cost (vww_mbv1_96's 3x3 layers take it, 6x6 ones do not);
left-shift layers and clamped ones keep the default kernels; golden == QEMU Cortex-M4 byte for byte
on forced layers covering an odd last pixel, partial channel groups, padding (3x3 im2col), an odd
count of K groups, chunked columns, several blocks, int4 and ternary; M7 / M33 / host (portable)
and the double-rounding MLPerf model in the slow runs."""
from __future__ import annotations

import re

import numpy as np
import pytest

from mcuforge.codegen.c.variants import dsp_subbyte
from mcuforge.codegen.c.variants import dsp_subbyte_rdx as R

from kernels.layer_models import conv_spec
from test_subbyte import run_subbyte


def _i32(v):
    return ((np.asarray(v, np.int64) + (1 << 31)) % (1 << 32)) - (1 << 31)


def _win(k_w, in_c, out_hw=(1, 1)):
    return {"k_h": 1, "k_w": k_w, "in_c": in_c, "dil_w": 1, "out_h": out_hw[0], "out_w": out_hw[1], "batch": 1}


def radix_accumulators(w: np.ndarray, x: np.ndarray, b2: np.ndarray, bits: int) -> np.ndarray:
    """What the GEMM computes from rdx_layout's flash words: per virtual channel (the raw halfword and
    its prefixes, cleared field by field from the top, as mcf_rdx_unpack4 / 2 do) an int32 sum of
    SMLADs that wraps, started from the virtual bias c_j = sum_{i<=j} R^i b'_i (mod 2^32)."""
    g = R.GROUP[bits]
    c, k = w.shape
    words = R.rdx_layout(w.reshape(c, 1, k, 1), _win(k, 1), bits).view("<u4").astype(np.int64)
    k4 = -(-k // 4) * 4
    xp = np.zeros(k4, np.int64)
    xp[:k] = x
    xw = xp.reshape(-1, 4)[:, [0, 2, 1, 3]].reshape(-1, 2)       # per word: (x_k, x_k+2)
    s16 = lambda v: v - ((v & 0x8000) << 1)
    cp = -(-c // g) * g
    bp = np.zeros(cp, np.int64)
    bp[:c] = b2
    acc = np.zeros(cp, np.int64)
    for grp in range(cp // g):
        u = words[grp * 2 * (k4 // 4):(grp + 1) * 2 * (k4 // 4)]
        pre = 0
        for j in range(g):
            pre += (int(bp[grp * g + j]) >> 1) << (bits * j)
            keep = (1 << (bits * (j + 1))) - 1                       # fields 0..j (j = G-1: the raw word)
            lo, hi = u & 0xFFFF & keep, (u >> 16) & keep
            if j == g - 1:
                lo, hi = s16(lo), s16(hi)
            acc[grp * g + j] = _i32(pre + (lo * xw[:, 0] + hi * xw[:, 1]).sum())
    return acc


def radix_decode(acc: np.ndarray, s: int, bits: int, c: int) -> np.ndarray:
    """mcf_rdx_decode's d per real channel (uint32 arithmetic) and its scale s_j (d = s_j (W + b'))."""
    g, o = R.GROUP[bits], R.OFFSET[bits]
    os2 = 2 * o * s
    d, scale = [], []
    for ch in range(c):
        j, a = ch % g, acc[ch - ch % g:]
        if j == 0:
            v = 2 * a[0] - os2
        elif j == g - 1:
            v = a[j] - a[j - 1]
        else:
            v = a[j] - a[j - 1] - (os2 << (bits * j - 1))
        d.append(_i32(v))
        scale.append(2 if j == 0 else 1 << (bits * j))
    return np.array(d), np.array(scale)


@pytest.mark.parametrize("bits", [4, 2])
def test_radix_block_arithmetic(bits):
    """The decoded differences are exactly s_j (w . x + b') for random layers (odd K, partial groups)."""
    rng = np.random.default_rng(bits)
    wmax = 7 if bits == 4 else 1
    for c, k in ((1, 4), (5, 13), (11, 37), (8, 64), (9, 130), (16, 256), (3, 7)):
        w = rng.integers(-wmax, wmax + 1, (c, k))
        x = rng.integers(-128, 128, k)
        b2 = 2 * rng.integers(-5000, 5000, c)
        d, scale = radix_decode(radix_accumulators(w, x, b2, bits), int(x.sum()), bits, c)
        np.testing.assert_array_equal(d, scale * (w @ x + b2 // 2))


@pytest.mark.parametrize("bits", [4, 2])
def test_radix_exactness_bound(bits):
    """The top field's channel at |w| = max everywhere and every input -128, K the largest rdx_ok
    allows (its difference s_top (W + b') just inside int32): the wrapping prefix sums decode
    exactly. Two inputs more and rdx_ok refuses the layer: its decode would be wrong there (the top
    difference wraps), so a test at the bound sees a wrong decode."""
    g = R.GROUP[bits]
    wmax = 7 if bits == 4 else 1
    top = 1 << (bits * (g - 1))
    kmax = (R.INT32_MAX // top) // (128 * wmax)
    rng = np.random.default_rng(7)
    b2 = np.zeros(g, np.int64)
    m, e = np.full(g, 1 << 30), np.ones(g, np.int64)
    for k, ok in ((kmax, True), (kmax + 2, False)):
        w = rng.choice([-wmax, wmax], (g, k))
        w[g - 1] = wmax
        x = np.full(k, -128)
        assert R.rdx_ok(w, b2, m, e, bits) == ok
        d, scale = radix_decode(radix_accumulators(w, x, b2, bits), int(x.sum()), bits, g)
        want = scale * (w @ x)
        assert np.array_equal(d, want) == ok, (k, d - want)


def test_rdx_ok_multipliers():
    """The multiplier must be a multiple of s_j / 2 (R^(G-1) / 2 for the top field: 2^11 int4, 2^13
    ternary), as 16-bit-mantissa multipliers are; e in 1..22."""
    w = np.ones((8, 4), np.int64)
    b2 = np.zeros(8, np.int64)
    e = np.ones(8, np.int64)
    m = np.full(8, (1 << 30) + (3 << 15))
    assert R.rdx_ok(w, b2, m, e, 4) and R.rdx_ok(w, b2, m, e, 2)
    assert R.rdx_ok(w, b2, m + (1 << 11), e, 4) and not R.rdx_ok(w, b2, m + (1 << 11), e, 2)
    assert not R.rdx_ok(w, b2, m + (1 << 10), e, 4)
    assert not R.rdx_ok(w, b2, m, np.zeros(8, np.int64), 4)


def _win3(hw):
    return {"out_h": hw, "out_w": hw, "batch": 1}


def test_choice_by_cost():
    """With the block rule's budget: vww_mbv1_96's 256 -> 256 pointwise layer at 3x3 (int4) is cheaper
    in the radix form, its 36-pixel 128 -> 128 and 64 -> 128 layers are not (the decode's cost per
    output outweighs what the cheaper unpacking saves at 36 pixels)."""
    def gain(hw, oc, k, bits):
        return dsp_subbyte.sub_dsp_plan(_win3(hw), oc, k, k)[2] - R.rdx_plan(_win3(hw), oc, k, k, bits)[2]
    assert gain(3, 256, 256, 4) > 0.1 * 65536
    assert gain(6, 128, 128, 4) < 0 and gain(6, 128, 64, 4) < 0 and gain(6, 128, 128, 2) < 0


def _forced(monkeypatch):
    """The radix form wherever it is exact: the default kernel's cost made infinite, and a layer whose
    budget holds no block of G channels (fewer channels than G) given the scratch of one."""
    monkeypatch.setattr(R, "sub_dsp_plan", lambda *a, **k: (0, 0, float("inf")))
    plan = R.rdx_plan
    monkeypatch.setattr(R, "rdx_plan", lambda win, out_c, k4, L, bits, budget=None:
                        plan(win, out_c, k4, L, bits, budget) or plan(win, out_c, k4, L, bits, 1 << 16))


def _struct_fields(out_dir):
    src = next(p for p in out_dir.glob("mcf_*.c") if not p.name.endswith("_weights.c")).read_text()
    out = []
    for body in re.findall(r"static const mcf_conv2d_sub_args \w+ = \{(.*?)\n\};", src, re.S):
        out.append({k: int(m.group(1)) if (m := re.search(rf"\.{k} = (\d+)", body)) else 0
                    for k in ("in_c", "out_c", "block", "cols")})
    return out


# an odd last pixel (3x3 pixels), partial groups (out_c 21 / 30 / 13 / 11), 3x3 with padding (im2col,
# zero point in S) and odd K groups (in_c 12 at k 3: 3 segments of 36, 27 groups of 4 K), 1x1 over 2x3
# pixels (no single pixel), stride 2; one group of 4 K (both GEMM loops with a single step) and fewer
# channels than a group (1x1 4 -> 3 over 1x3 pixels), a 3x3 conv over 3 input channels at 2x2
# (segments of 9, padded to 12)
SPECS = [conv_spec(24, 21, 3, k=1, pad=0), conv_spec(12, 13, 5), conv_spec(20, 30, (2, 3), k=1, pad=0),
         conv_spec(12, 11, 6, stride=2), conv_spec(4, 3, (1, 3), k=1, pad=0), conv_spec(3, 10, 2)]


@pytest.mark.parametrize("target", ["cortex-m4"] + [pytest.param(t, marks=pytest.mark.slow)
                                                     for t in ("cortex-m7", "cortex-m33", "host")])
def test_forced_bit_exact(tmp_path, monkeypatch, target):
    """Every layer in the radix form (int4 and ternary alternating) within a small budget: several
    blocks everywhere, all columns kept in the 1x1 layers, one pair per chunk in the 3x3 ternary ones
    (the blocks unpacked again per chunk): golden == board byte for byte."""
    _forced(monkeypatch)
    monkeypatch.setattr(dsp_subbyte, "DSP_BLOCK_BYTES", 2500)
    info = run_subbyte(tmp_path, target, SPECS)
    kernels = [l["kernel"] for l in info["layers"] if l["op"] == "conv2d"]
    if target == "host":
        return                       # the host build runs the portable kernels
    assert all(k.endswith("_dsp_rdx") for k in kernels), kernels
    fields = _struct_fields(tmp_path / target)
    assert len(fields) == len(SPECS) and all(f["cols"] > 0 for f in fields), fields
    assert any(f["block"] < f["out_c"] for f in fields), fields


@pytest.mark.slow
@pytest.mark.parametrize("bits", [4, 2])
def test_forced_chunks_bit_exact(tmp_path, monkeypatch, bits):
    """Columns kept in chunks (cols below the image's pairs: the blocks unpacked again per chunk), a
    budget so small that few pairs fit; one width throughout."""
    _forced(monkeypatch)
    monkeypatch.setattr(R, "SUM_PER_K4", 1000.0)          # many pairs per chunk are not worth it ...
    monkeypatch.setattr(dsp_subbyte, "DSP_BLOCK_BYTES", 500)
    specs = [conv_spec(16, 18, 5, k=1, pad=0), conv_spec(8, 17, 4)]
    run_subbyte(tmp_path, "cortex-m4", specs, weight_bits=bits)
    fields = _struct_fields(tmp_path / "cortex-m4")
    assert all(0 < f["cols"] for f in fields), fields


@pytest.mark.slow
@pytest.mark.parametrize("bits", [4, 2])
def test_default_choice_vww_shape(tmp_path, bits):
    """The default choice, no forcing: a 1x1 256 -> 256 layer at 3x3 takes the radix form in int4
    (cost), and every run is bit-exact on M4."""
    info = run_subbyte(tmp_path, "cortex-m4", [conv_spec(256, 256, 3, k=1, pad=0)], weight_bits=bits)
    kernels = [l["kernel"] for l in info["layers"] if l["op"] == "conv2d"]
    if bits == 4:
        assert kernels == ["mcf_conv2d_s8_w4_dsp_rdx"], kernels


def test_left_shift_and_clamp_refused(monkeypatch):
    """Layers with left-shift channels keep _dsp_lsh / _dsp_lss (the decode takes right shifts only),
    and layers with a clamp inside int8's range keep the default kernel (the decode has no clamp)."""
    _forced(monkeypatch)
    rng = np.random.default_rng(0)
    w = rng.integers(-7, 8, (16, 1, 1, 64))
    consts = {"weights": w, "bias": np.zeros(16, np.int64), "mult": np.full(16, (1 << 30) + (1 << 15)),
              "shift": np.full(16, -8)}
    win = {"k_h": 1, "k_w": 1, "in_c": 64, "dil_w": 1, "dil_h": 1, "out_h": 3, "out_w": 3, "batch": 1}
    rq = {"in_zp": 3, "out_zp": -5, "act_min": -128, "act_max": 127}
    params = {"win": win, "groups": 1, "weight_bits": 4, "rq": rq, "consts": consts}
    assert R._rdx_accepts(params)
    assert not R._rdx_accepts(dict(params, consts=dict(consts, shift=np.where(np.arange(16) == 3, 1, -8))))
    assert not R._rdx_accepts(dict(params, rq=dict(rq, act_min=-5)))
