"""Sub-byte fully connected layers on cores without SIMD (Cortex-M0 / M3): the _pair kernels
(runtime_c/include/mcf_subbyte_pair.h, codegen/c/variants/fast_subbyte_fc.py), bit-exact with the
golden model on the host (C path) and on QEMU Cortex-M3 (ARMv7-M assembly) and Cortex-M0."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.api import compile_model, simulate

from kernels.layer_models import build_model, fc_spec
from test_subbyte import BOARDS, _toolchain
from mcuforge.codegen.c.variants.fast_subbyte_fc import OFFSET, pair_bias, pair_layout


def _pair_dot_numpy(packed: np.ndarray, x: np.ndarray, out: int, k: int, bits: int) -> np.ndarray:
    """The kernel's arithmetic on the flash bytes: per word, sum of X W modulo 2^32, its high half."""
    n = 32 // bits
    words = packed.view("<u4").astype(np.uint64)
    pairs = out // 2 * 2
    rows = np.concatenate([words[:pairs * (k // n)].reshape(pairs // 2, k // n, 2).transpose(0, 2, 1)
                           .reshape(pairs, k // n), words[pairs * (k // n):].reshape(out - pairs, k // n)])
    mask = 0x000F000F if bits == 4 else 0x00030003
    xu = (x.astype(np.int64) + 128).astype(np.uint64)
    d = np.zeros(out, np.int64)
    for j in range(k // n):
        t = np.zeros(out, np.uint64)
        for q in range(n // 4):
            b = xu[j * n + 4 * q: j * n + 4 * q + 4]
            xa, xb = b[0] + (b[2] << 16), b[1] + (b[3] << 16)
            t += xa * ((rows[:, j] >> (bits * 2 * q)) & mask) + xb * ((rows[:, j] >> (bits * (2 * q + 1))) & mask)
            t &= 0xFFFFFFFF            # uint32 in C: b' d' 2^32 drops out
        d += (t >> 16).astype(np.int64)
    return d


@pytest.mark.parametrize("bits,out,k", [(4, 7, 24), (4, 10, 64), (2, 5, 32), (2, 12, 96)])
def test_pair_layout_gives_the_dot_product(bits, out, k):
    rng = np.random.default_rng(bits + out)
    lim = 7 if bits == 4 else 1
    w = rng.integers(-lim, lim + 1, size=(out, k))
    w[0] = lim                      # the largest fields in every pair: the per-word bound
    x = rng.integers(-128, 128, size=k)
    x[:8] = 127
    d = _pair_dot_numpy(pair_layout(w, bits), x, out, k, bits)
    assert np.array_equal(d, ((x + 128)[None, :] * (w + OFFSET[bits])).sum(axis=1))
    zp, bias = -5, rng.integers(-1000, 1000, size=out)
    b = pair_bias({"weights": w, "bias": bias}, zp, bits)
    assert np.array_equal(b + d - OFFSET[bits] * x.sum(), bias + ((x - zp)[None, :] * w).sum(axis=1))


SPECS = [fc_spec(64, 10), fc_spec(128, 7, relu=True), fc_spec(32, 5, bias=False), fc_spec(37, 6)]


def _run(tmp_path, target, board, bits, specs=SPECS):
    _toolchain(board)
    model, calib, x = build_model(specs, tmp_path / "model.onnx", seed=bits)
    out = tmp_path / f"{target}_{board}_{bits}"
    res = compile_model(model, out, target=target, calib=calib, quiet=True, weight_bits=bits)
    kernels = [l["kernel"] for l in res.info["layers"] if l["op"] == "dense"]
    y, _ = simulate(out, board=board, x=x, quiet=True)
    ref, _ = simulate(out, board="reference", x=x, quiet=True)
    for i, (a, b) in enumerate(zip(y, ref)):
        assert a.shape == b.shape and np.array_equal(a, b), f"branch {i} ({specs[i]}) differs from the golden model"
    return kernels


@pytest.mark.parametrize("bits", [4, 2])
def test_pair_host_bit_exact_and_chosen_by_default(tmp_path, bits):
    """Built for Cortex-M3, run natively (the C path): golden == host C; the default choice takes
    _pair where K is a multiple of a word's fields, _fast elsewhere (37 inputs)."""
    kernels = _run(tmp_path, "cortex-m3", "host", bits)
    assert len(kernels) == 4 and kernels.count(f"mcf_fully_connected_s8_w{bits}_pair") == 3
    model, calib, _ = build_model([fc_spec(37, 6)], tmp_path / "k37" / "model.onnx")
    res = compile_model(model, tmp_path / "k37" / "m3", target="cortex-m3", calib=calib, quiet=True,
                        weight_bits=bits)
    assert [l["kernel"] for l in res.info["layers"] if l["op"] == "dense"] != [f"mcf_fully_connected_s8_w{bits}_pair"]


def test_dsp_cores_keep_their_kernels(tmp_path):
    model, calib, _ = build_model([fc_spec(64, 10)], tmp_path / "model.onnx")
    res = compile_model(model, tmp_path / "m4", target="cortex-m4", calib=calib, quiet=True, weight_bits=4)
    (k,) = [l["kernel"] for l in res.info["layers"] if l["op"] == "dense"]
    assert "_dsp" in k


@pytest.mark.parametrize("target,bits", [("cortex-m3", 4), ("cortex-m0", 2)])
def test_pair_qemu_bit_exact(tmp_path, target, bits):
    kernels = _run(tmp_path, target, BOARDS[target], bits, SPECS[:3])
    assert kernels == [f"mcf_fully_connected_s8_w{bits}_pair"] * 3


@pytest.mark.slow
@pytest.mark.parametrize("target,bits", [("cortex-m3", 2), ("cortex-m0", 4)])
def test_pair_qemu_bit_exact_other_width(tmp_path, target, bits):
    kernels = _run(tmp_path, target, BOARDS[target], bits, SPECS[:3])
    assert kernels == [f"mcf_fully_connected_s8_w{bits}_pair"] * 3


def _rows_model(path):
    """MatMul + Add on a [1, 3, 64] input: one dense layer with rows = 3."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(3)
    w = (rng.normal(size=(64, 10)) * 0.2).astype(np.float32)
    b = (rng.normal(size=(10,)) * 0.1).astype(np.float32)
    g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Add", ["m", "B"], ["y"])],
                          "rows", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 10])],
                          [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
    path.mkdir(parents=True, exist_ok=True)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path / "m.onnx")
    np.savez(path / "calib.npz", x=rng.normal(size=(8, 1, 3, 64)).astype(np.float32))
    return path / "m.onnx", path / "calib.npz"


@pytest.mark.parametrize("target,board,bits", [("cortex-m3", "host", 2), ("cortex-m3", "mps2-an385", 4),
                                               pytest.param("cortex-m0", "microbit", 2, marks=pytest.mark.slow)])
def test_pair_several_rows(tmp_path, target, board, bits):
    _toolchain(board)
    model, calib = _rows_model(tmp_path / "src")
    res = compile_model(model, tmp_path / "out", target=target, calib=calib, quiet=True, weight_bits=bits)
    assert [l["kernel"] for l in res.info["layers"] if l["op"] == "dense"] == [f"mcf_fully_connected_s8_w{bits}_pair"]
    (src,) = [f for f in (tmp_path / "out").glob("mcf_*.c") if not f.name.endswith("_weights.c")]
    assert ".rows = 3," in src.read_text()
    y, _ = simulate(tmp_path / "out", board=board, quiet=True)
    ref, _ = simulate(tmp_path / "out", board="reference", quiet=True)
    assert y.shape == (1, 3, 10) and np.array_equal(y, ref)


def _c_array(ctype, name, values):
    return f"static const {ctype} {name}[] __attribute__((aligned(4))) = {{{', '.join(str(int(v)) for v in values)}}};\n"


@pytest.mark.parametrize("bits", [4, 2])
def test_pair_unaligned_input_c_path(tmp_path, bits):
    """The C loop (host gcc -Wall -Wextra -Werror): inputs at an odd address (the byte-assembled
    words, as on ARMv6-M when a caller's buffer is unaligned) and aligned give the same bytes as
    the portable kernel on its own layout and the unfolded bias, for random layers."""
    import subprocess
    from mcuforge.quant.subbyte import pack_weights
    model, calib, _ = build_model([fc_spec(32, 5)], tmp_path / "m" / "model.onnx")
    compile_model(model, tmp_path / "gen", target="cortex-m3", calib=calib, quiet=True, weight_bits=bits)
    inc = tmp_path / "gen" / "mcuforge_runtime" / "include"
    rng = np.random.default_rng(bits)
    out_f, k, rows, zp = 7, 64, 2, -3
    lim = 7 if bits == 4 else 1
    w = rng.integers(-lim, lim + 1, size=(out_f, k))
    bias = rng.integers(-3000, 3000, size=out_f)
    mult = rng.integers(2 ** 29, 2 ** 31 - 1, size=out_f)
    shift = rng.integers(-7, -4, size=out_f)
    x = rng.integers(-128, 128, size=rows * k)
    src = ['#include <stdio.h>\n#include <string.h>\n#include "mcf_subbyte_pair.h"\n',
           _c_array("uint8_t", "w_ref", pack_weights(w, bits)), _c_array("uint8_t", "w_pair", pair_layout(w, bits)),
           _c_array("int32_t", "b_ref", bias), _c_array("int32_t", "b_pair", pair_bias({"weights": w, "bias": bias}, zp, bits)),
           _c_array("int32_t", "mult", mult), _c_array("int8_t", "shift", shift), _c_array("int8_t", "x", x), f"""
int main(void)
{{
    static int8_t buf[{rows * k} + 8] __attribute__((aligned(4)));
    int8_t y_ref[{rows * out_f}], y_al[{rows * out_f}], y_un[{rows * out_f}];
    mcf_fully_connected_sub_args a;
    memset(&a, 0, sizeof a);
    a.rows = {rows}; a.in_features = {k}; a.out_features = {out_f};
    a.rq.in_zp = {zp}; a.rq.out_zp = 5; a.rq.act_min = -128; a.rq.act_max = 127;
    a.rq.mult = mult; a.rq.shift = shift;
    a.weights = w_ref; a.bias = b_ref;
    mcf_fully_connected_sub(&a, x, y_ref, {bits});
    a.weights = w_pair; a.bias = b_pair;
    memcpy(buf, x, sizeof x);
    mcf_fully_connected_sub_pair(&a, buf, y_al, {bits});
    memcpy(buf + 1, x, sizeof x);
    mcf_fully_connected_sub_pair(&a, buf + 1, y_un, {bits});
    for (int i = 0; i < {rows * out_f}; ++i) printf("%d %d %d\\n", y_ref[i], y_al[i], y_un[i]);
    return 0;
}}
"""]
    (tmp_path / "t.c").write_text("".join(src))
    subprocess.run(["gcc", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(inc),
                    str(tmp_path / "t.c"), "-o", str(tmp_path / "t")], check=True)
    got = np.array([[int(v) for v in line.split()] for line in
                    subprocess.run([str(tmp_path / "t")], check=True, capture_output=True, text=True).stdout.split("\n")
                    if line])
    assert got.shape == (rows * out_f, 3) and len(set(got[:, 0])) > 3
    assert np.array_equal(got[:, 0], got[:, 1]) and np.array_equal(got[:, 0], got[:, 2])
