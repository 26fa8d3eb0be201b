"""Range proofs cover the integer layers added for real models too: a transposed convolution, an
int8 batch matmul or a PReLU whose requantization would overflow int32 is refused naming the layer, and the
same layers at sane scales compile (the proof does not refuse legal models)."""
import pytest

from mcuforge.api import compile_model
from mcuforge.errors import McuforgeError
from mcuforge.frontend.tflite import load_tflite_bytes

from test_elementwise_tflite import OP, _binary
from test_reduce_ops import _batch_matmul_model
from test_resize_ops import _tfl_transpose_conv

MODELS = {
    "conv_transpose2d": lambda: _tfl_transpose_conv((1, 4, 4, 3), 4, (3, 3), (2, 2), "SAME", (8, 8)),
    "matmul": lambda: _batch_matmul_model((1, 3, 5), (1, 5, 4), False, False),
    "prelu": lambda: _binary(OP.PRELU, (1, 4, 4, 8), (1, 1, 8), (1, 4, 4, 8), const2=True)[0],
}


@pytest.mark.parametrize("op", sorted(MODELS))
def test_overflowing_requantization_is_refused_naming_the_layer(op, tmp_path):
    g = load_tflite_bytes(MODELS[op]())
    out = g.tensors[g.outputs[0]]
    out.quant = type(out.quant)(out.quant.s * 1e-25, out.quant.zp)  # a byte flip's 1e-25x finer grid
    with pytest.raises(McuforgeError, match=rf"{op} node .*overflows int32"):
        compile_model(g, tmp_path / "lib", target="host", quiet=True)
    assert not (tmp_path / "lib").exists()


@pytest.mark.parametrize("op", sorted(MODELS))
def test_legal_scales_compile(op, tmp_path):
    res = compile_model(load_tflite_bytes(MODELS[op]()), tmp_path / "lib", target="host", quiet=True)
    assert (tmp_path / "lib").is_dir() and res.info["arena_bytes"] > 0


def test_l2_normalization_over_a_long_axis_is_refused(tmp_path):
    """int32 sum of squares along the axis: 200,000 values of up to 135^2 would wrap (TFLM's kernel
    too); a 64-long axis compiles."""
    from tflite_builder import ModelBuilder
    from test_elementwise_tflite import l2norm_opts

    def model(n):
        b = ModelBuilder()
        x, y = b.tensor((1, n), scale=0.05, zp=7), b.tensor((1, n), scale=1 / 128, zp=0)
        b.op(OP.L2_NORMALIZATION, [x], [y], **l2norm_opts())
        return load_tflite_bytes(b.build([x], [y]))

    with pytest.raises(McuforgeError, match=r"l2_normalize node .*sum of squares.*beyond int32"):
        compile_model(model(200000), tmp_path / "big", target="host", quiet=True)
    compile_model(model(64), tmp_path / "small", target="host", quiet=True)
