"""TFLite data movement, int8, byte-exact with tflite-micro: the Keras Flatten chain (SHAPE ->
STRIDED_SLICE -> PACK -> RESHAPE, folded at import), STRIDED_SLICE / SLICE / GATHER / PACK / UNPACK /
SPLIT / SPLIT_V / TRANSPOSE / TILE / DEPTH_TO_SPACE / SPACE_TO_DEPTH / SQUEEZE / EXPAND_DIMS / PADV2 on
variable tensors, QUANTIZE int8 -> int8 (requantize) and DEQUANTIZE as the model's float output.
Generated C on the host == golden model == tflite-micro for every output; one model under QEMU M4."""
import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fbs

from mcuforge.api import compile_model, simulate
from mcuforge.errors import McuforgeError
from mcuforge.sim.tflm import TflmModel

from test_tflite_frontend import int8_inputs
from tflite_builder import OP, ModelBuilder, concat_opts, fc_opts

Q = dict(scale=0.05, zp=-3)


def _opts(cls, typ, **fields):
    o = getattr(fbs, cls + "T")()
    for k, v in fields.items():
        setattr(o, k, v)
    return dict(options=o, options_type=getattr(fbs.BuiltinOptions, typ))


def _i32(b, values):
    v = np.array(values, np.int32)
    return b.tensor(v.shape, dtype="int32", data=v)


def _keras_flatten():
    """What TensorFlow's converter writes for Keras Flatten before a Dense layer."""
    b = ModelBuilder()
    x = b.tensor((1, 4, 4, 3), **Q)
    shp = b.tensor((4,), dtype="int32")
    n = b.tensor((), dtype="int32")
    packed = b.tensor((2,), dtype="int32")
    flat = b.tensor((1, 48), **Q)
    b.op(OP.SHAPE, [x], [shp], **_opts("ShapeOptions", "ShapeOptions", outType=fbs.TensorType.INT32))
    b.op(OP.STRIDED_SLICE, [shp, _i32(b, [0]), _i32(b, [1]), _i32(b, [1])], [n],
         **_opts("StridedSliceOptions", "StridedSliceOptions", shrinkAxisMask=1))
    b.op(OP.PACK, [n, _i32(b, -1)], [packed], **_opts("PackOptions", "PackOptions", valuesCount=2, axis=0))
    b.op(OP.RESHAPE, [x, packed], [flat])
    w = b.tensor((5, 48), scale=0.02, data=np.random.default_rng(0).integers(-127, 128, (5, 48)))
    bias = b.tensor((5,), dtype="int32", scale=0.05 * 0.02, data=np.arange(5) * 40)
    y = b.tensor((1, 5), scale=0.1, zp=2)
    b.op(OP.FULLY_CONNECTED, [flat, w, bias], [y], **fc_opts())
    return b.build([x], [y])


def _strided_slice():
    b = ModelBuilder()
    x = b.tensor((1, 6, 8, 4), **Q)
    y1 = b.tensor((3, 4, 4), **Q)        # shrink axis 0, rows 1::2, columns reversed by 2, all channels
    y2 = b.tensor((1, 2, 8, 2), **Q)     # begin/end masks, negative indices
    b.op(OP.STRIDED_SLICE, [x, _i32(b, [0, 1, -1, 0]), _i32(b, [1, 6, -100, 4]), _i32(b, [1, 2, -2, 1])], [y1],
         **_opts("StridedSliceOptions", "StridedSliceOptions", shrinkAxisMask=1))
    b.op(OP.STRIDED_SLICE, [x, _i32(b, [0, -2, 5, 1]), _i32(b, [0, 0, 0, 4]), _i32(b, [1, 1, 1, 2])], [y2],
         **_opts("StridedSliceOptions", "StridedSliceOptions", beginMask=0b0100, endMask=0b0111))
    y3 = b.tensor((1, 3, 8, 2), **Q)
    b.op(OP.SLICE, [x, _i32(b, [0, 2, 0, 1]), _i32(b, [-1, 3, -1, 2])], [y3])
    return b.build([x], [y1, y2, y3])


def _split():
    b = ModelBuilder()
    x = b.tensor((1, 4, 6, 6), **Q)
    parts = [b.tensor((1, 4, 6, 2), **Q) for _ in range(3)]
    b.op(OP.SPLIT, [_i32(b, [3]), x], parts, **_opts("SplitOptions", "SplitOptions", numSplits=3))
    v = [b.tensor((1, 4, 1, 6), **Q), b.tensor((1, 4, 3, 6), **Q), b.tensor((1, 4, 2, 6), **Q)]
    b.op(OP.SPLIT_V, [x, _i32(b, [1, -1, 2]), _i32(b, [2])], v, **_opts("SplitVOptions", "SplitVOptions", numSplits=3))
    return b.build([x], [parts[0], parts[2], v[1], v[2]])


def _pack_unpack_gather():
    b = ModelBuilder()
    x = b.tensor((1, 3, 4, 5), **Q)
    rows = [b.tensor((1, 4, 5), **Q) for _ in range(3)]
    b.op(OP.UNPACK, [x], rows, **_opts("UnpackOptions", "UnpackOptions", num=3, axis=1))
    packed = b.tensor((1, 4, 2, 5), **Q)
    b.op(OP.PACK, [rows[2], rows[0]], [packed], **_opts("PackOptions", "PackOptions", valuesCount=2, axis=2))
    g1 = b.tensor((1, 3, 3, 5), **Q)
    b.op(OP.GATHER, [x, _i32(b, [3, 0, 1])], [g1], **_opts("GatherOptions", "GatherOptions", axis=2))
    g2 = b.tensor((1, 3, 4), **Q)
    b.op(OP.GATHER, [x, _i32(b, 4)], [g2], **_opts("GatherOptions", "GatherOptions", axis=3))
    return b.build([x], [packed, g1, g2, rows[1]])


def _transpose_squeeze_pad():
    b = ModelBuilder()
    x = b.tensor((1, 4, 5, 3), **Q)
    t = b.tensor((1, 3, 4, 5), **Q)
    b.op(OP.TRANSPOSE, [x, _i32(b, [0, 3, 1, 2])], [t])
    sq = b.tensor((4, 5, 3), **Q)
    b.op(OP.SQUEEZE, [x], [sq], **_opts("SqueezeOptions", "SqueezeOptions", squeezeDims=[0]))
    ex = b.tensor((4, 1, 5, 3), **Q)
    b.op(OP.EXPAND_DIMS, [sq, _i32(b, [1])], [ex])
    p = b.tensor((4, 3, 7, 3), **Q)
    b.op(OP.PADV2, [ex, _i32(b, [[0, 0], [1, 1], [2, 0], [0, 0]]), b.tensor((), scale=0.05, zp=-3, data=np.int8(17))], [p])
    return b.build([x], [t, p])


def _depth_space():
    b = ModelBuilder()
    x = b.tensor((1, 3, 3, 8), **Q)
    d = b.tensor((1, 6, 6, 2), **Q)
    b.op(OP.DEPTH_TO_SPACE, [x], [d], **_opts("DepthToSpaceOptions", "DepthToSpaceOptions", blockSize=2))
    s = b.tensor((1, 3, 3, 8), **Q)
    b.op(OP.SPACE_TO_DEPTH, [d], [s], **_opts("SpaceToDepthOptions", "SpaceToDepthOptions", blockSize=2))
    s2 = b.tensor((1, 1, 1, 72), **Q)
    b.op(OP.SPACE_TO_DEPTH, [x], [s2], **_opts("SpaceToDepthOptions", "SpaceToDepthOptions", blockSize=3))
    return b.build([x], [d, s2])


def _mirror_pad_broadcast():
    b = ModelBuilder()
    x = b.tensor((1, 4, 5, 3), **Q)
    p = b.tensor((1, 7, 6, 3), **Q)
    b.op(OP.MIRROR_PAD, [x, _i32(b, [[0, 0], [2, 1], [0, 1], [0, 0]])], [p],
         **_opts("MirrorPadOptions", "MirrorPadOptions", mode=fbs.MirrorPadMode.REFLECT))
    row = b.tensor((1, 1, 5, 3), **Q)
    b.op(OP.STRIDED_SLICE, [x, _i32(b, [0, 1, 0, 0]), _i32(b, [1, 2, 5, 3]), _i32(b, [1, 1, 1, 1])], [row])
    bc = b.tensor((2, 4, 5, 3), **Q)
    b.op(OP.BROADCAST_TO, [row, _i32(b, [2, 4, 5, 3])], [bc])
    return b.build([x], [p, bc])


def _quantize_dequantize():
    b = ModelBuilder()
    x = b.tensor((1, 4, 4, 8), scale=0.05, zp=3)
    rq = b.tensor((1, 4, 4, 8), scale=0.0213, zp=-7)
    b.op(OP.QUANTIZE, [x], [rq])
    rq2 = b.tensor((1, 4, 4, 8), scale=0.11, zp=20)
    b.op(OP.QUANTIZE, [rq], [rq2])
    f = b.tensor((1, 4, 4, 8), dtype="float32")
    b.op(OP.DEQUANTIZE, [rq2], [f])
    return b.build([x], [rq, f])


CASES = {"keras_flatten": _keras_flatten, "strided_slice": _strided_slice, "split": _split,
         "pack_unpack_gather": _pack_unpack_gather, "transpose_squeeze_padv2": _transpose_squeeze_pad,
         "depth_space": _depth_space, "quantize_dequantize": _quantize_dequantize,
         "mirror_pad_broadcast_to": _mirror_pad_broadcast}


def _check(buf, tmp_path, board="host"):
    path = tmp_path / "m.tflite"
    path.write_bytes(buf)
    res = compile_model(path, tmp_path / "lib", target="host" if board == "host" else "cortex-m4", quiet=True)
    shape = tuple(res.info["inputs"][0]["shape"])
    feeds = int8_inputs(shape, 3, seed=1)
    ref = TflmModel(buf)
    want = [ref.run(f) for f in feeds]
    ours = simulate(tmp_path / "lib", board, np.stack(feeds), quiet=True)[0]
    golden = simulate(tmp_path / "lib", "reference", np.stack(feeds), quiet=True)[0]
    ours, golden = (y if isinstance(y, list) else [y] for y in (ours, golden))
    assert len(ours) == len(want[0])
    for k in range(len(ours)):
        assert np.array_equal(ours[k], golden[k]), f"output {k}: {board} differs from the golden model"
        for s, w in enumerate(want):
            assert ours[k][s].dtype == w[k].dtype, (ours[k].dtype, w[k].dtype)
            assert np.array_equal(ours[k][s].reshape(w[k].shape), w[k]), f"output {k}, sample {s} differs from TFLM"
    return res


@pytest.mark.parametrize("case", sorted(CASES))
def test_c_matches_tflm(case, tmp_path):
    res = _check(CASES[case](), tmp_path)
    ops = [r["op"] for r in res.info["layers"]]
    if case == "keras_flatten":  # the shape chain left nothing behind but the dense layer
        assert set(ops) <= {"dense", "reshape"}, ops


def test_qemu_m4_matches_tflm(tmp_path):
    res = _check(_strided_slice(), tmp_path, board="mps2-an386")
    assert "mcf_strided_copy" in {r["kernel"] for r in res.info["layers"]}


def test_tile_matches_numpy(tmp_path):
    """TILE (UpSampling2D chains; tflite-micro has no TILE kernel, so numpy's tile is the oracle)."""
    b = ModelBuilder()
    x = b.tensor((1, 4, 5, 3), **Q)
    y = b.tensor((1, 8, 5, 6), **Q)
    b.op(OP.TILE, [x, _i32(b, [1, 2, 1, 2])], [y])
    path = tmp_path / "tile.tflite"
    path.write_bytes(b.build([x], [y]))
    compile_model(path, tmp_path / "lib", target="host", quiet=True)
    xs = np.stack(int8_inputs((1, 4, 5, 3), 2))
    want = np.stack([np.tile(v, (1, 2, 1, 2)) for v in xs])
    for board in ("reference", "host"):
        assert np.array_equal(simulate(tmp_path / "lib", board, xs, quiet=True)[0].reshape(want.shape), want)


def test_keras_upsampling2d_chain_with_stale_static_shape(tmp_path):
    """Keras UpSampling2D as TensorFlow converts it: EXPAND_DIMS -> TILE -> RESHAPE per axis, the
    new shape computed by SHAPE -> STRIDED_SLICE -> CONCATENATION, and (as in the corpus fixture
    keras_unet_upsampling2d) a stale static shape stored on the last RESHAPE's output. The computed
    shape wins; the result is nearest-neighbour upsampling (numpy's repeat is the oracle, since
    tflite-micro has no TILE kernel)."""
    b = ModelBuilder()
    x = b.tensor((1, 2, 3, 4), **Q)
    e1, t1 = b.tensor((1, 2, 1, 3, 4), **Q), b.tensor((1, 2, 2, 3, 4), **Q)
    b.op(OP.EXPAND_DIMS, [x, _i32(b, 2)], [e1])
    b.op(OP.TILE, [e1, _i32(b, [1, 1, 2, 1, 1])], [t1])
    shp, n = b.tensor((4,), dtype="int32"), b.tensor((1,), dtype="int32")
    b.op(OP.SHAPE, [x], [shp], **_opts("ShapeOptions", "ShapeOptions", outType=fbs.TensorType.INT32))
    b.op(OP.STRIDED_SLICE, [shp, _i32(b, [0]), _i32(b, [1]), _i32(b, [1])], [n],
         **_opts("StridedSliceOptions", "StridedSliceOptions"))
    new_shape = b.tensor((4,), dtype="int32")
    b.op(OP.CONCATENATION, [n, _i32(b, [4]), _i32(b, [3, 4])], [new_shape], **concat_opts(0))
    h2 = b.tensor((1, 4, 3, 4), **Q)
    b.op(OP.RESHAPE, [t1, new_shape], [h2])
    e2, t2 = b.tensor((1, 4, 3, 1, 4), **Q), b.tensor((1, 4, 3, 2, 4), **Q)
    b.op(OP.EXPAND_DIMS, [h2, _i32(b, [3])], [e2])
    b.op(OP.TILE, [e2, _i32(b, [1, 1, 1, 2, 1])], [t2])
    y = b.tensor((1, 1, 4, 6), **Q)  # stale: the value is (1, 4, 6, 4)
    b.op(OP.RESHAPE, [t2, _i32(b, [1, 4, 6, 4])], [y])
    path = tmp_path / "up.tflite"
    path.write_bytes(b.build([x], [y]))
    res = compile_model(path, tmp_path / "lib", target="host", quiet=True)
    assert tuple(res.info["outputs"][0]["shape"]) == (1, 4, 6, 4)
    xs = np.stack(int8_inputs((1, 2, 3, 4), 2))
    want = np.repeat(np.repeat(xs, 2, axis=2), 2, axis=3)
    for board in ("reference", "host"):
        got = simulate(tmp_path / "lib", board, xs, quiet=True)[0]
        assert np.array_equal(got.reshape(want.shape), want), board


def test_shape_from_data_refused(tmp_path):
    """RESHAPE whose new shape is read from a data tensor at run time: refused, operator named."""
    b = ModelBuilder()
    x = b.tensor((1, 8), **Q)
    s = b.tensor((2,), dtype="int32")
    y = b.tensor((2, 4), **Q)
    b.op(OP.RESHAPE, [x, s], [y])
    path = tmp_path / "dd.tflite"
    path.write_bytes(b.build([x, s], [y]))
    with pytest.raises(McuforgeError) as e:
        compile_model(path, tmp_path / "lib", target="host", quiet=True)
    msg = str(e.value)
    assert "\n" not in msg and "RESHAPE" in msg and "run time" in msg, msg
