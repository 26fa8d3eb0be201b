"""Sub-byte weights (int4, ternary): the quantizer, the packed storage and the _w4 / _w2 kernels,
bit-exact golden model = host C = QEMU on every Cortex-M board.

One model holds many one-layer branches (tests/kernels/layer_models.py); a per-layer weight_bits
dict gives them int4 and ternary weights in turn, so one firmware build per board checks both
widths of convolution, depthwise and fully connected kernels. The default run has the host
and the Cortex-M4; the other boards are @slow."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.api import compile_model, load_model, simulate
from mcuforge.errors import McuforgeError
from mcuforge.quant.subbyte import (channel_scales, pack_weights, packed_nbytes, quantize_weights_bits,
                                    resolve_weight_bits, unpack_weights)
from mcuforge.sim import toolchain

from kernels.layer_models import build_model, conv_spec, dw_spec, fc_spec

# small enough for the micro:bit's 16 KB of RAM; alternating widths give each kind both
SPECS = [
    conv_spec(8, 8, 5),                                     # 3x3, pad 1
    conv_spec(3, 7, 5, stride=2),                           # odd channels: rows straddle bytes
    conv_spec(12, 10, 4, k=1, pad=0, relu=True),            # pointwise
    conv_spec(5, 5, (7, 6), k=(3, 2), dil=2, stride=2),     # dilation, odd everything
    dw_spec(12, 5),                                         # depthwise 3x3
    dw_spec(5, (6, 5), k=(3, 2), mult=2, dil=2, relu=True),  # depth multiplier, dilation
    fc_spec(64, 10), fc_spec(37, 11, relu=True),
]

BOARDS = {  # target -> board
    "host": "host",
    "cortex-m4": "mps2-an386",
    "cortex-m0": "microbit",
    "cortex-m3": "mps2-an385",
    "cortex-m7": "mps2-an500",
    "cortex-m33": "mps2-an505",
    "cortex-m55": "mps3-an547",
}


# -- quantizer and packing --------------------------------------------------------------------
def test_int4_packing_is_tflite_order():
    """TFLite's dense int4 packing: element 2i in the low nibble, 2i+1 in the high one, an odd
    count padded with a zero nibble (tensorflow/compiler/mlir/lite/utils/low_bit_utils.cc)."""
    q = np.array([1, -1, 7, -7, 0, 3, -2], np.int8)
    packed = pack_weights(q, 4)
    assert packed.tolist() == [0xF1, 0x97, 0x30, 0x0E]
    np.testing.assert_array_equal(unpack_weights(packed, 4, q.size), q)
    assert packed_nbytes(7, 4) == 4


def test_ternary_packing_two_bit_twos_complement():
    q = np.array([1, -1, 0, 1, -1], np.int8)       # fields 01, 11, 00, 01 | 11
    packed = pack_weights(q, 2)
    assert packed.tolist() == [0b01_00_11_01, 0b11]
    np.testing.assert_array_equal(unpack_weights(packed, 2, q.size), q)
    with pytest.raises(McuforgeError, match="2-bit grid"):
        pack_weights(np.array([2], np.int8), 2)


@pytest.mark.parametrize("bits", [4, 2])
def test_pack_roundtrip_random(bits):
    rng = np.random.default_rng(bits)
    m = {4: 7, 2: 1}[bits]
    for n in (1, 2, 3, 5, 64, 333):
        q = rng.integers(-m, m + 1, n).astype(np.int8)
        p = pack_weights(q, bits)
        assert p.size == -(-n * bits // 8)
        np.testing.assert_array_equal(unpack_weights(p, bits, n), q)


def test_int4_grid_and_error_bound():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 1, (6, 3, 3, 5)).astype(np.float32)
    q, qp = quantize_weights_bits(w, 4)
    assert q.min() >= -7 and q.max() <= 7 and (np.abs(q).reshape(6, -1).max(axis=1) == 7).all()
    err = np.abs(q * qp.scale.reshape(-1, 1, 1, 1) - w)
    assert (err <= qp.scale.reshape(-1, 1, 1, 1) / 2 + 1e-6).all()


def test_ternary_absmean_and_median_scales():
    w = np.array([[0.1, -0.2, 0.9, -0.05, 0.0, 0.3],
                  [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]], np.float32)
    s_mean = channel_scales(w, 2, "absmean")
    s_med = channel_scales(w, 2, "median")
    assert s_mean[0] == pytest.approx(np.abs(w[0]).mean())      # BitNet b1.58: gamma = mean |W|
    assert s_med[0] == pytest.approx(np.median(np.abs(w[0])))   # 'Reloaded': median |W|
    assert s_mean[1] == 1.0 and s_med[1] == 1.0                 # dead channel: any scale, weights 0
    q, _ = quantize_weights_bits(w, 2, ternary_method="absmean")
    # round(w / 0.258) clipped to [-1, 1]
    assert q[0].tolist() == [0, -1, 1, 0, 0, 1] and not q[1].any()
    q, _ = quantize_weights_bits(w, 2, ternary_method="median")
    assert q[0].tolist() == [1, -1, 1, 0, 0, 1]                 # median 0.15: 0.1 rounds to 1


def test_weight_bits_resolution_and_errors(tmp_path):
    model, _, _ = build_model([conv_spec(4, 4, 5), fc_spec(8, 3)], tmp_path / "m.onnx")
    g = load_model(model)
    names = [n.name for n in g.topo_order() if n.op in ("conv2d", "dense")]
    assert set(resolve_weight_bits(g, 4).values()) == {4}
    assert resolve_weight_bits(g, {names[0]: 2}) == {names[0]: 2, names[1]: 8}
    with pytest.raises(McuforgeError, match="one of 8, 4, 2"):
        resolve_weight_bits(g, 3)
    with pytest.raises(McuforgeError, match="not a weight layer"):
        resolve_weight_bits(g, {"nope": 4})


# -- C kernels, bit-exact on every board -------------------------------------------------------
def _toolchain(board):
    if board == "host":
        return
    try:
        toolchain.qemu_arm()
        toolchain.arm_gcc()
    except McuforgeError as e:
        pytest.skip(f"no Cortex-M toolchain/QEMU here: {e}")


def mixed_widths(model) -> dict:
    """Half the weight layers int4, half ternary (alternating in graph order)."""
    g = load_model(model)
    layers = [n.name for n in g.topo_order() if n.op in ("conv2d", "dense")]
    return {name: (4 if i % 2 == 0 else 2) for i, name in enumerate(layers)}


def run_subbyte(tmp_path, target, specs, weight_bits=None, seed=0, portable=False):
    _toolchain(BOARDS[target])
    specs2 = specs
    model, calib, x = build_model(specs2, tmp_path / "model.onnx", seed=seed)
    wb = weight_bits if weight_bits is not None else mixed_widths(model)
    res = compile_model(model, tmp_path / target, target="cortex-m4" if target == "host" else target,
                        calib=calib, quiet=True, weight_bits=wb, portable_kernels=portable)
    y, _ = simulate(tmp_path / target, board=BOARDS[target], x=x, quiet=True)
    ref, _ = simulate(tmp_path / target, board="reference", x=x, quiet=True)
    y, ref = (y, ref) if isinstance(y, list) else ([y], [ref])
    for i, (a, b) in enumerate(zip(y, ref)):
        assert a.shape == b.shape
        bad = np.argwhere(a != b)
        assert bad.size == 0, f"branch {i} ({specs2[i]}) differs from the golden model at {len(bad)} places"
    return res.info


def _check_widths(info):
    layers = [l for l in info["layers"] if l["op"] in ("conv2d", "dense")]
    assert {l["weight_bits"] for l in layers} == {4, 2}
    for l in layers:
        assert f"_w{l['weight_bits']}" in l["kernel"], l
    kinds = {(k.split("_s8")[0], w) for k, w in ((l["kernel"], l["weight_bits"]) for l in layers)}
    assert kinds == {(f, w) for f in ("mcf_conv2d", "mcf_depthwise_conv2d", "mcf_fully_connected") for w in (4, 2)}


@pytest.mark.parametrize("target", [
    "cortex-m4",
    pytest.param("host", marks=pytest.mark.slow),
    pytest.param("cortex-m0", marks=pytest.mark.slow),
    pytest.param("cortex-m3", marks=pytest.mark.slow),
    pytest.param("cortex-m7", marks=pytest.mark.slow),
    pytest.param("cortex-m33", marks=pytest.mark.slow),
    pytest.param("cortex-m55", marks=pytest.mark.slow),
])
def test_subbyte_bit_exact(tmp_path, target):
    info = run_subbyte(tmp_path, target, SPECS)
    _check_widths(info)
    kernels = [l["kernel"] for l in info["layers"] if l["op"] in ("conv2d", "dense")]
    if target == "cortex-m55":      # Helium convolution, depthwise (multiplier 1) and fully connected
        assert all(k.endswith("_mve") for k in kernels if k.startswith("mcf_conv2d")), kernels
        assert all(k.endswith("_mve") for k in kernels if k.startswith("mcf_fully")), kernels
    elif target in ("cortex-m4", "cortex-m7", "cortex-m33"):    # the DSP extension
        assert any(k.endswith("_dsp") for k in kernels if k.startswith("mcf_conv2d")), kernels
        assert all(k.endswith(("_dsp", "_dsp_head")) for k in kernels if k.startswith("mcf_fully")), kernels
    elif target in ("cortex-m0", "cortex-m3"):   # FC with 64 inputs: _pair (test_subbyte_m0m3_fc.py)
        assert all(k.endswith(("_fast", "_fastu", "_pair")) for k in kernels), kernels
        assert any(k.endswith("_pair") for k in kernels), kernels


@pytest.mark.slow
@pytest.mark.parametrize("target,seed", [("cortex-m4", 21), ("cortex-m3", 22), ("cortex-m55", 23)])
def test_subbyte_random_layers(tmp_path, target, seed):
    """Random layer configurations (odd channels, padding, strides, dilation, depth multipliers)."""
    from kernels.test_variants import _valid, random_specs
    rng = np.random.default_rng(seed)
    specs = [s for s in random_specs(rng, n=8) if _valid(s)]
    run_subbyte(tmp_path, target, specs, seed=seed)


@pytest.mark.parametrize("target,bits", [
    ("cortex-m4", 4),
    pytest.param("cortex-m4", 2, marks=pytest.mark.slow),
    pytest.param("cortex-m3", 2, marks=pytest.mark.slow),
])
def test_subbyte_chain_with_inplace_arena(tmp_path, target, bits):
    """Sequential layers: the arena planner lets outputs overlap dying inputs where the kernels
    allow it (the channel-by-channel depthwise does not)."""
    from kernels.layer_models import build_chain
    _toolchain(BOARDS[target])
    chain = [("conv", 8, 3, 2), ("dw", 3, 1), ("pw", 16), ("dw", 3, 2), ("pw", 24), ("pw", 24)]
    model, calib, x = build_chain(3, 14, chain, tmp_path / "chain.onnx")
    compile_model(model, tmp_path / target, target=target, calib=calib, quiet=True, weight_bits=bits)
    y, _ = simulate(tmp_path / target, board=BOARDS[target], x=x, quiet=True)
    ref, _ = simulate(tmp_path / target, board="reference", x=x, quiet=True)
    np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("target", ["cortex-m4", pytest.param("cortex-m55", marks=pytest.mark.slow)])
def test_blocks_of_channels(tmp_path, monkeypatch, target):
    """The DSP (M4) and Helium (M55) kernels unpack `block` output channels at a time into the
    int8 kernel's layout; with a tiny scratch budget a layer takes several blocks (each re-reads
    the whole input, so the output may not overlap it), a partial last block included; a
    single-row fully connected layer reads the flash words directly (Helium: the fields in place,
    mcf_subbyte_mve_fc.h); a 3x3 depthwise layer runs
    the int8 DSP 3x3 (Helium: depthwise) kernel over taps unpacked at run time. Bit-exact on QEMU."""
    from mcuforge.codegen.c.variants import dsp_subbyte
    monkeypatch.setattr(dsp_subbyte, "DSP_BLOCK_BYTES", 400)
    monkeypatch.setattr(dsp_subbyte, "MVE_BLOCK_BYTES", 300)
    # one build, widths alternating per layer (int4 first); each kind at both widths across the
    # two lists' positions: conv w4 / w2, pointwise w2, FC w4 / w2, depthwise w2 / w4
    specs = [conv_spec(12, 7, 5), conv_spec(8, 9, 4, k=1, pad=0), fc_spec(37, 11), dw_spec(12, 5),
             conv_spec(3, 7, 5, stride=2), fc_spec(20, 6), dw_spec(8, 6)]
    conv = "mve" if target == "cortex-m55" else "dsp"
    info = run_subbyte(tmp_path, target, specs)
    for l in (l for l in info["layers"] if l["op"] in ("conv2d", "dense")):
        fam = l["kernel"].split("_s8")[0]
        assert l["kernel"] == f"{fam}_s8_w{l['weight_bits']}_{conv}", l
    kinds = {(l["kernel"].split("_s8")[0], l["weight_bits"]) for l in info["layers"] if l["op"] in ("conv2d", "dense")}
    assert len(kinds) == 6, kinds


@pytest.mark.slow
@pytest.mark.parametrize("bits", [4, 2])
@pytest.mark.parametrize("target,board", [("cortex-m4", "mps2-an386"), ("cortex-m55", "mps3-an547")])
def test_conv_at_int8_speed(tmp_path, bits, target, board):
    """Issue 13 item 1: a 3x3 convolution (16 -> 16 channels, 16x16) with int4 / ternary weights
    executes at most 1.05x the instructions of the int8 DSP (M4) / Helium (M55) kernel on QEMU
    (measured 1.01x): the multiply-accumulate loop is the int8 one."""
    _toolchain(board)
    model, calib, x = build_model([conv_spec(16, 16, 16)], tmp_path / "m.onnx")
    x = [a[:1] for a in x]
    n = {}
    for b in (8, bits):
        res = compile_model(model, tmp_path / str(b), target=target, calib=calib, quiet=True, weight_bits=b)
        y, info = simulate(tmp_path / str(b), board=board, x=x, quiet=True)
        ref, _ = simulate(tmp_path / str(b), board="reference", x=x, quiet=True)
        np.testing.assert_array_equal(y, ref)
        n[b] = info["instructions"]
        assert res.info["layers"][0]["kernel"].endswith("_mve" if target == "cortex-m55" else "_dsp")
    assert n[bits] <= 1.05 * n[8], n


@pytest.mark.slow
@pytest.mark.parametrize("target", ["host", "cortex-m4", "cortex-m55", "cortex-m3"])
def test_subbyte_portable_kernels_bit_exact(tmp_path, target):
    """The reference kernels themselves (the optimized variants are passed over)."""
    info = run_subbyte(tmp_path, target, SPECS, portable=True)
    assert all(l["kernel"].endswith(("_w4", "_w2")) for l in info["layers"] if l["op"] in ("conv2d", "dense"))


@pytest.mark.slow
def test_mlperf_ic_resnet8_flash_ratio(tmp_path):
    """ic_resnet8 (MLPerf Tiny int8 .tflite narrowed to int4 / ternary): the weight layers' flash
    with the portable kernels, packed weights + bias + multiplier + shift, against int8."""
    from mlperf_data import model_path
    path = model_path("ic_resnet8_int8")
    size = {}
    for bits in (8, 4, 2):
        info = compile_model(path, tmp_path / str(bits), quiet=True, weight_bits=bits, portable_kernels=True).info
        size[bits] = sum(l["weight_bytes"] for l in info["layers"] if l["op"] in ("conv2d", "dense"))
    assert size[4] <= 0.55 * size[8] and size[2] <= 0.3 * size[8], size


@pytest.mark.parametrize("bits", [4, 2])
def test_packed_flash_and_report(tmp_path, bits):
    """The packed bytes are what the weights file holds; the report and model.json list each width."""
    model, calib, _ = build_model([conv_spec(32, 16, 6)], tmp_path / "m.onnx")
    i8 = compile_model(model, tmp_path / "w8", calib=calib, quiet=True, portable_kernels=True)
    sb = compile_model(model, tmp_path / f"w{bits}", calib=calib, quiet=True, portable_kernels=True,
                       weight_bits=bits)
    (l8,), (lb,) = ([l for l in r.info["layers"] if l["op"] == "conv2d"] for r in (i8, sb))
    consts = 16 * 12                                            # int8: bias, multiplier, shift int32 per channel
    assert l8["weight_bytes"] == 16 * 9 * 32 + consts
    # sub-byte: int4 two a byte, ternary five a byte (base 3); int16 bias, uint16 multiplier
    # (16-bit mantissa), int8 shift: 5 bytes a channel
    w_bytes = 16 * 9 * 32 // 2 if bits == 4 else -(-16 * 9 * 32 // 5)
    assert lb["weight_bytes"] == w_bytes + 16 * 5
    assert lb["weight_bits"] == bits and list(sb.info["weight_bits"].values()) == [bits]
    # the bar, constants included: <= 0.55x (int4), <= 0.3x (ternary) of int8 (0.50x, 0.21x here)
    assert lb["weight_bytes"] / l8["weight_bytes"] <= {4: 0.55, 2: 0.3}[bits]
    src = (tmp_path / f"w{bits}" / f"{sb.info['prefix']}_weights.c").read_text()
    assert f"{sb.info['prefix']}_L0_weights[{w_bytes}]" in src
    assert f"(w{bits})" in __import__("mcuforge.api", fromlist=["report"]).report(tmp_path / f"w{bits}")


@pytest.mark.slow
def test_cli_weight_bits(tmp_path):
    """`mcuforge compile --weight-bits 2` writes ternary kernels and reports the width; a sub-byte
    width with --quant float32 is a one-line error."""
    from test_cli_errors import assert_clean_error, run_cli
    model, calib, _ = build_model([conv_spec(8, 4, 5), fc_spec(16, 3)], tmp_path / "m.onnx")
    res = run_cli("compile", model, "-o", tmp_path / "out", "--calib", calib, "--weight-bits", "2",
                  "--ternary-method", "median", "--portable-kernels")
    assert res.returncode == 0, res.stderr
    assert "(w2)" in res.stdout and "_w2" in res.stdout
    assert_clean_error(run_cli("compile", model, "-o", tmp_path / "f", "--quant", "float32", "--weight-bits", "4"),
                       "--weight-bits 4 needs --quant int8")
    assert not (tmp_path / "f").exists()
