"""TFLite int8 elementwise operators against TFLite Micro, byte for byte: the golden model on every
int8 input for the unary ones (TANH, RELU, RELU6, LEAKY_RELU, RSQRT, whose TFLM arithmetic the LUT
must reproduce), broadcasting ADD / SUB / MUL / MAXIMUM / MINIMUM / PRELU / SQUARED_DIFFERENCE,
L2_NORMALIZATION, and the
generated C of one branched model holding all of them (host, and QEMU Cortex-M4 in the slow run).
RELU_N1_TO_1 imports but has no TFLM kernel to compare with."""
import numpy as np
import pytest

from mcuforge.api import compile_model, simulate
from mcuforge.errors import McuforgeError
from mcuforge.frontend.tflite import load_tflite_bytes
from mcuforge.sim.tflm import TflmModel

from test_tflite_frontend import ALL_INT8, assert_parity, int8_inputs
from tflite_builder import OP, ModelBuilder, add_opts, fb, mul_opts, unary_model


def leaky_opts(alpha):
    o = fb.LeakyReluOptionsT()
    o.alpha = alpha
    return dict(options=o, options_type=fb.BuiltinOptions.LeakyReluOptions)


def sub_opts():
    return dict(options=fb.SubOptionsT(), options_type=fb.BuiltinOptions.SubOptions)


def leaky_model(alpha, s_in, z_in, s_out, z_out):
    b = ModelBuilder()
    x, y = b.tensor((1, 256), scale=s_in, zp=z_in), b.tensor((1, 256), scale=s_out, zp=z_out)
    b.op(OP.LEAKY_RELU, [x], [y], **leaky_opts(alpha))
    return b.build([x], [y])


UNARY = {
    "tanh_a": lambda: unary_model(OP.TANH, 0.05, 3, 1 / 128, 0),
    "tanh_b": lambda: unary_model(OP.TANH, 0.3, -100, 1 / 128, 0),
    "tanh_c": lambda: unary_model(OP.TANH, 0.01, 20, 1 / 128, 0),
    "tanh_d": lambda: unary_model(OP.TANH, 2.0, 0, 1 / 128, 0),
    "relu_a": lambda: unary_model(OP.RELU, 0.05, 3, 0.03, -128),
    "relu_b": lambda: unary_model(OP.RELU, 0.05, -20, 0.05, -20),
    "relu6_a": lambda: unary_model(OP.RELU6, 0.05, 3, 0.05, 3),
    "relu6_b": lambda: unary_model(OP.RELU6, 0.03, -128, 0.03, -128),
    "leaky_a": lambda: leaky_model(0.1, 0.05, 3, 0.04, -20),
    "leaky_b": lambda: leaky_model(0.3, 0.1, -50, 0.07, 10),
}


@pytest.mark.parametrize("case", sorted(UNARY))
def test_unary_exhaustive(case):
    assert_parity(UNARY[case](), ALL_INT8, case)


@pytest.mark.parametrize("s_in,z_in,s_out,z_out", [(0.05, -128, 0.02, -100), (0.3, -50, 0.1, 0),
                                                   (0.002, 0, 0.5, -128)])
def test_rsqrt_every_valid_input(s_in, z_in, s_out, z_out):
    """TFLM refuses inputs below the zero point (negative reals), so every value from it up."""
    b = ModelBuilder()
    n = 128 - z_in
    x, y = b.tensor((1, n), scale=s_in, zp=z_in), b.tensor((1, n), scale=s_out, zp=z_out)
    b.op(OP.RSQRT, [x], [y])
    assert_parity(b.build([x], [y]), [(np.arange(z_in, 128, dtype=np.int8).reshape(1, n),)])


def l2norm_opts():
    return dict(options=fb.L2NormOptionsT(), options_type=fb.BuiltinOptions.L2NormOptions)


@pytest.mark.parametrize("shape", [(1, 8), (2, 3, 16), (1, 4, 4, 5)])
def test_l2_normalization(shape):
    b = ModelBuilder()
    x, y = b.tensor(shape, scale=0.05, zp=7), b.tensor(shape, scale=1 / 128, zp=0)
    b.op(OP.L2_NORMALIZATION, [x], [y], **l2norm_opts())
    assert_parity(b.build([x], [y]), [(v,) for v in int8_inputs(shape, 6)])


def test_fixed_point_tanh_is_accurate():
    """gemmlowp's tanh on Q4.27 inputs (the core of TFLM's TANH) against numpy, and the importer
    selects that rule."""
    from mcuforge.reference.fixedpoint import tanh_raw
    q = np.random.default_rng(0).integers(-(1 << 31) + 1, 1 << 31, 4000)
    got = tanh_raw(q, 4).astype(np.float64) / 2 ** 31
    assert np.abs(got - np.tanh(q / 2 ** 27)).max() < 2e-6
    g = load_tflite_bytes(UNARY["tanh_a"]())
    assert next(iter(g.nodes.values())).attrs["int_algo"] == "tflm"


def test_tanh_output_grid_is_checked():
    with pytest.raises(McuforgeError, match="TANH needs output scale 1/128"):
        load_tflite_bytes(unary_model(OP.TANH, 0.05, 3, 1 / 256, -128))


# -- binary ops with broadcasting ----------------------------------------------------------------
def _binary(code, s1, s2, so, opts=None, qs=((0.05, 3), (0.07, -9), (0.06, 5)), const2=False, seed=0):
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    x = b.tensor(s1, scale=qs[0][0], zp=qs[0][1])
    y = b.tensor(s2, scale=qs[1][0], zp=qs[1][1], data=rng.integers(-128, 128, s2) if const2 else None)
    o = b.tensor(so, scale=qs[2][0], zp=qs[2][1])
    b.op(code, [x, y], [o], **(opts or {}))
    if const2:
        return b.build([x], [o]), [(v,) for v in int8_inputs(s1, 4, 1)]
    return b.build([x, y], [o]), list(zip(int8_inputs(s1, 4, 1), int8_inputs(s2, 4, 2)))


SAME = ((0.05, 3),) * 3
BINARY = {
    "prelu_per_channel": lambda: _binary(OP.PRELU, (1, 4, 4, 8), (1, 1, 8), (1, 4, 4, 8), const2=True),
    "prelu_hwc": lambda: _binary(OP.PRELU, (1, 4, 4, 8), (4, 4, 8), (1, 4, 4, 8), const2=True,
                                 qs=((0.05, -3), (0.01, -100), (0.03, -70))),
    "max_same_shape": lambda: _binary(OP.MAXIMUM, (1, 4, 4, 8), (1, 4, 4, 8), (1, 4, 4, 8), qs=SAME),
    "max_broadcast": lambda: _binary(OP.MAXIMUM, (1, 4, 4, 8), (1, 1, 1, 8), (1, 4, 4, 8), qs=SAME),
    "min_broadcast": lambda: _binary(OP.MINIMUM, (1, 4, 4, 8), (1, 4, 1, 1), (1, 4, 4, 8), qs=SAME),
    "max_mixed_grids": lambda: _binary(OP.MAXIMUM, (1, 4, 4, 8), (1, 4, 4, 8), (1, 4, 4, 8)),
    "mul_gate": lambda: _binary(OP.MUL, (1, 4, 4, 8), (1, 1, 1, 8), (1, 4, 4, 8), mul_opts()),
    "mul_gate_first_relu": lambda: _binary(OP.MUL, (1, 1, 1, 8), (1, 4, 4, 8), (1, 4, 4, 8), mul_opts("relu")),
    "add_column": lambda: _binary(OP.ADD, (1, 4, 4, 8), (1, 4, 1, 1), (1, 4, 4, 8), add_opts()),
    "add_rank5_both_sides": lambda: _binary(OP.ADD, (2, 1, 3, 1, 5), (1, 4, 1, 6, 1), (2, 4, 3, 6, 5), add_opts()),
    "sub_row": lambda: _binary(OP.SUB, (1, 4, 4, 8), (1, 1, 4, 1), (1, 4, 4, 8), sub_opts()),
    "sub_const": lambda: _binary(OP.SUB, (1, 4, 4, 8), (1, 1, 1, 8), (1, 4, 4, 8), sub_opts(), const2=True),
    "sqdiff_same": lambda: _binary(OP.SQUARED_DIFFERENCE, (1, 4, 4, 8), (1, 4, 4, 8), (1, 4, 4, 8)),
    "sqdiff_both_sides": lambda: _binary(OP.SQUARED_DIFFERENCE, (1, 4, 1, 8), (1, 1, 4, 1), (1, 4, 4, 8),
                                         qs=((0.1, -128), (0.02, 50), (0.3, -128))),
}


@pytest.mark.parametrize("case", sorted(BINARY))
def test_binary_golden(case):
    buf, feeds = BINARY[case]()
    assert_parity(buf, feeds, case)


# -- generated C: one model holding every op above ----------------------------------------------
def branched_model() -> bytes:
    """x [1,4,4,8] and a gate g [1,1,1,8] feed every elementwise operator; each result is an
    output (TFLM returns them all)."""
    rng = np.random.default_rng(5)
    b = ModelBuilder()
    shape = (1, 4, 4, 8)
    x = b.tensor(shape, scale=0.05, zp=3)
    g = b.tensor((1, 1, 1, 8), scale=0.04, zp=-10)
    outs = []

    def out(scale, zp, s=shape):
        t = b.tensor(s, scale=scale, zp=zp)
        outs.append(t)
        return t

    b.op(OP.TANH, [x], [out(1 / 128, 0)])
    relu = out(0.03, -128)
    b.op(OP.RELU, [x], [relu])
    b.op(OP.RSQRT, [relu], [out(0.05, -100)])      # RELU's zero point -128: no negative input
    b.op(OP.L2_NORMALIZATION, [x], [out(1 / 128, 0)], **l2norm_opts())
    b.op(OP.RELU6, [x], [out(0.05, 3)])
    b.op(OP.LEAKY_RELU, [x], [out(0.04, -20)], **leaky_opts(0.2))
    b.op(OP.LOGISTIC, [x], [out(1 / 256, -128)])
    slope = b.tensor((1, 1, 8), scale=0.01, zp=-5, data=rng.integers(-128, 128, (1, 1, 8)))
    b.op(OP.PRELU, [x, slope], [out(0.045, -30)])
    b.op(OP.MUL, [x, g], [out(0.02, 7)], **mul_opts())           # the gate kernel, gate second
    b.op(OP.MUL, [g, x], [out(0.03, -7)], **mul_opts("relu"))    # gate first
    b.op(OP.ADD, [x, g], [out(0.07, 0)], **add_opts("relu6"))
    b.op(OP.SUB, [g, x], [out(0.08, 2)], **sub_opts())
    b.op(OP.MAXIMUM, [x, x], [out(0.05, 3)])
    b.op(OP.MINIMUM, [x, x], [out(0.05, 3)])
    b.op(OP.SQUARED_DIFFERENCE, [x, g], [out(0.1, -128)])
    return b.build([x, g], outs), [shape, (1, 1, 1, 8)]


def _c_vs_tflm(tmp_path, board):
    buf, shapes = branched_model()
    path = tmp_path / "elementwise.tflite"
    path.write_bytes(buf)
    res = compile_model(path, tmp_path / "lib", target="cortex-m4" if board != "host" else "host", quiet=True)
    kinds = {r["op"] for r in res.info["layers"]}
    assert {"lut", "prelu", "mul", "add", "sub", "max", "min", "l2_normalize", "squared_difference"} <= kinds, kinds
    feeds = [int8_inputs(s, 3, seed=i) for i, s in enumerate(shapes)]
    ours, _ = simulate(tmp_path / "lib", board, [np.stack(f) for f in feeds])
    ref = TflmModel(buf)
    for k in range(len(feeds[0])):
        theirs = ref.run(*[f[k] for f in feeds])
        assert len(ours) == len(theirs)
        for j, (o, t) in enumerate(zip(ours, theirs)):
            assert np.array_equal(o[k].reshape(t.shape), t), f"{board}: output {j}, sample {k} differs"


def test_c_host_matches_tflm(tmp_path):
    _c_vs_tflm(tmp_path, "host")


def test_gate_layout_detection():
    from mcuforge.codegen.c.layers.elementwise import broadcast_params
    from mcuforge.codegen.c.variants.gate_elementwise import gate_layout
    x = (1, 4, 4, 8)
    assert gate_layout(broadcast_params(x, (1, 1, 1, 8), x)) == "b"
    assert gate_layout(broadcast_params((1, 1, 4, 8), x, x)) == "a"
    assert gate_layout(broadcast_params(x, (8,), x)) == "b"
    assert gate_layout(broadcast_params(x, (1, 4, 1, 1), x)) is None      # per-row scalar: odometer
    assert gate_layout(broadcast_params(x, x, x)) is None
    assert gate_layout(broadcast_params((1, 4, 1, 8), (1, 1, 4, 1), x)) is None


@pytest.mark.slow
def test_c_m4_matches_tflm(tmp_path):
    _c_vs_tflm(tmp_path, "mps2-an386")


def test_gate_mul_every_pair_of_values(tmp_path):
    """x holds every int8 value on each row, the gate every int8 value along the channels: the
    generated gate kernel (its 32-bit requantization) against TFLM on all 65536 products."""
    b = ModelBuilder()
    x = b.tensor((1, 256, 256), scale=0.05, zp=3)
    g = b.tensor((1, 1, 256), scale=0.011, zp=-100)
    y = b.tensor((1, 256, 256), scale=0.09, zp=-5)
    b.op(OP.MUL, [x, g], [y], **mul_opts("relu6"))
    buf = b.build([x, g], [y])
    (tmp_path / "m.tflite").write_bytes(buf)
    res = compile_model(tmp_path / "m.tflite", tmp_path / "lib", target="host", quiet=True)
    assert [r.get("kernel") for r in res.info["layers"]] == ["mcf_mul_s8_gate"]
    vals = np.arange(-128, 128, dtype=np.int8)
    xv = np.broadcast_to(vals[:, None], (256, 256)).reshape(1, 256, 256).copy()
    gv = vals.reshape(1, 1, 256)
    ours, _ = simulate(tmp_path / "lib", "host", [xv[None], gv[None]])
    assert np.array_equal(ours.reshape(1, 256, 256), TflmModel(buf, arena_size=1 << 20).run(xv, gv)[0])
