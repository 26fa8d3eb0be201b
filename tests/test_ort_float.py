"""requant="ort": int8 ops that follow onnxruntime's float32 QDQ arithmetic where it differs from one
exact rounding (reference/ort_float.py): Add / Sub of two int8 tensors (a float32 sum of the two
dequantized values, then x / scale rounded half to even: near-ties fall either way) and bilinear
Resize (float32 weights). Outside oracle: onnxruntime running the QDQ model with
ORT_DISABLE_ALL, on every one of the 65,536 input pairs of an Add; host C and QEMU (M4, and M0 /
M3 without FPU for the integer add) equal the golden model byte for byte."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mcuforge.api import compile_model, prepare_graph, simulate
from mcuforge.reference.executor import Executor

from corpus import check
from onnx_qdq import ort_session

# (s_a, z_a, s_b, z_b, s_out, z_out): mobilenet_v2's first Add (TorchScript export, onnxruntime's
# quantize_static on the fixture's calibration samples): 2 of its 65,536 input pairs have exact
# values at a fraction .5 where float32 lands on the other side; and a random draw where the exact
# rule differs from onnxruntime on 2 pairs of the Add and 2 of the Sub (1 of 40 draws did).
ADD_CASES = [(0.012334778904914856, -128, 0.020573675632476807, 20, 0.025734426453709602, -27),
             (0.01728525571525097, 2, 0.026473447680473328, 15, 0.021326526999473572, -11)]


def _binary_qdq(op, sa, za, sb, zb, so, zo, n=1 << 16):
    """float inputs a, b -> Q/DQ -> op -> Q/DQ: the two int8 inputs reach `op` as onnxruntime's
    DequantizeLinear makes them."""
    inits = [numpy_helper.from_array(np.array(v, dtype=dt), name=nm) for v, dt, nm in
             [(sa, np.float32, "sa"), (za, np.int8, "za"), (sb, np.float32, "sb"), (zb, np.int8, "zb"),
              (so, np.float32, "so"), (zo, np.int8, "zo")]]
    nodes = [helper.make_node("QuantizeLinear", ["a", "sa", "za"], ["aq"]),
             helper.make_node("DequantizeLinear", ["aq", "sa", "za"], ["ad"]),
             helper.make_node("QuantizeLinear", ["b", "sb", "zb"], ["bq"]),
             helper.make_node("DequantizeLinear", ["bq", "sb", "zb"], ["bd"]),
             helper.make_node(op, ["ad", "bd"], ["s"]),
             helper.make_node("QuantizeLinear", ["s", "so", "zo"], ["sq"]),
             helper.make_node("DequantizeLinear", ["sq", "so", "zo"], ["y"])]
    io = [helper.make_tensor_value_info(k, TensorProto.FLOAT, [1, n]) for k in ("a", "b", "y")]
    g = helper.make_graph(nodes, "binary", io[:2], io[2:], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def _all_pairs(case, n=1 << 16):
    """Float inputs that quantize exactly to every (a, b) int8 pair, in `n`-element rows."""
    sa, za, sb, zb = (np.float32(case[0]), case[1], np.float32(case[2]), case[3])
    a, b = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij")
    fa = ((a.ravel() - za) * np.float64(sa)).astype(np.float32).reshape(-1, 1, n)
    fb = ((b.ravel() - zb) * np.float64(sb)).astype(np.float32).reshape(-1, 1, n)
    return fa, fb


def _golden(g, xs):
    ex = Executor(g)
    return np.stack([ex.run(dict(zip(g.inputs, x)))[g.outputs[0]] for x in zip(*xs)])


def _quantized_inputs(g, fa, fb):
    return [np.clip(np.round(f / g.tensors[t].quant.s) + g.tensors[t].quant.zp, -128, 127).astype(np.int8)
            for f, t in zip((fa, fb), g.inputs)]


@pytest.mark.parametrize("op, case", [("Add", 0), ("Add", 1), ("Sub", 1)])
def test_add_sub_rule_equals_onnxruntime_on_all_input_pairs(tmp_path, op, case):
    path = tmp_path / "m.onnx"
    onnx.save(_binary_qdq(op, *ADD_CASES[case]), path)
    fa, fb = _all_pairs(ADD_CASES[case])
    sess = ort_session(path)
    so, zo = ADD_CASES[case][4:]
    want = np.round(sess.run(None, {"a": fa[0], "b": fb[0]})[0] / np.float32(so)) + zo
    got = {}
    for mode in ("single", "ort"):
        g, _ = prepare_graph(path, quiet=True, requant=mode)
        (node,) = [n for n in g.nodes.values() if n.op == op.lower()]
        assert (node.attrs.get("float_rule") == "ort") == (mode == "ort")
        got[mode] = _golden(g, _quantized_inputs(g, fa, fb)).reshape(want.shape)
    assert np.array_equal(got["ort"], want)
    # the exact rule rounds some near-ties the other way: this test can see a regressed rule
    assert 0 < np.count_nonzero(got["single"] != want) <= 8


def test_add_integer_form_equals_float32_sequence():
    """The kernel's integer form (fast fixed-point path, exact path: tables + threshold staircase),
    proven on all pairs at compile time, for a fused ReLU, for scales 2^20 apart (the widest exact
    sums) and for exact ties ((a + b) / 2: rounded half to even, like onnxruntime)."""
    from mcuforge.errors import McuforgeError
    from mcuforge.reference import ort_float

    class Node:
        op, name, attrs = "add", "n", {}

    a, b = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij")
    for sa, sb, so, lo in ((0.0213, 0.0317, 0.0419, 5), (0.02, 0.02 * 2.0 ** -20, 0.0133, -128), (0.1, 0.1, 0.2, -128)):
        p = dict(in1_s=float(np.float32(sa)), in2_s=float(np.float32(sb)), out_s=float(np.float32(so)),
                 in1_zp=3, in2_zp=-4, out_zp=5, act_min=lo, act_max=127)
        for sign in (1, -1):
            t = ort_float.tables(Node, p, sign)
            s = t["da"][a + 128] + t["db"][b + 128]
            want = ort_float.add_sub_f32(a.ravel(), b.ravel(), p, sign)
            assert np.array_equal(lo + np.searchsorted(t["thresholds"], s.ravel(), side="right"), want)
            got, near = ort_float.kernel_model(t, p, a.ravel() + 128, b.ravel() + 128)
            assert np.array_equal(got, want)
            # only values within 2^-12 of a step take the exact path; (a + b) / 2 has exact ties
            assert near.mean() < (0.51 if sa == 0.1 else 0.01)
    p = dict(p, in2_s=float(np.float32(0.02 * 2.0 ** -40)))
    with pytest.raises(McuforgeError, match="too far apart"):
        ort_float.tables(Node, p, 1)


@pytest.mark.parametrize("board", ["host", "mps2-an386", "microbit"])
def test_add_kernel_equals_onnxruntime_on_all_input_pairs(tmp_path, board):
    """mcf_add_s8_ort on the host, QEMU Cortex-M4 and Cortex-M0 (integers only, no FPU): all 65,536
    pairs of mobilenet_v2's first Add, identical to onnxruntime (and so to the golden model)."""
    n = 1 << 11
    path = tmp_path / "m.onnx"
    onnx.save(_binary_qdq("Add", *ADD_CASES[0], n=n), path)
    res = compile_model(path, tmp_path / "lib", quiet=True, requant="ort",
                        target="cortex-m0" if board == "microbit" else "cortex-m4")
    assert [p.name for p in res.out_dir.rglob("mcf_add_s8*.c")] == ["mcf_add_s8_ort.c"]
    fa, fb = _all_pairs(ADD_CASES[0], n)
    so, zo = ADD_CASES[0][4:]
    want = np.concatenate([np.round(ort_session(path).run(None, {"a": x, "b": y})[0] / np.float32(so)) + zo
                           for x, y in zip(fa, fb)])
    got, info = simulate(res.out_dir, board, [fa, fb], quiet=True)
    assert np.array_equal(got.reshape(want.shape), want)


def _resize_add_qdq(coord="align_corners", hw=(6, 6), out_hw=(12, 12), c=4, scales=False, join="Add"):
    """x -> Q/DQ -> bilinear Resize -> Q/DQ -> Add(., y) (or Concat) -> Q/DQ, every grid its own."""
    grids = {"x": (0.031, -5), "r": (0.029, 3), "y": (0.017, 9), "s": (0.043, -2)}
    if join == "Concat":   # unet's pattern: the resize keeps its input's grid, the concat has its own
        grids["r"] = grids["x"]
    inits = []
    for k, (s, z) in grids.items():
        inits += [numpy_helper.from_array(np.array(s, np.float32), f"s_{k}"),
                  numpy_helper.from_array(np.array(z, np.int8), f"z_{k}")]
    inits.append(numpy_helper.from_array(np.array([], np.float32), "roi"))
    if scales:
        inits.append(numpy_helper.from_array(np.array([1, 1, out_hw[0] / hw[0], out_hw[1] / hw[1]], np.float32), "sc"))
        rin = ["xd", "roi", "sc"]
    else:
        inits.append(numpy_helper.from_array(np.array([1, c, *out_hw], np.int64), "sizes"))
        rin = ["xd", "roi", "", "sizes"]

    def qdq(src, k, dst):
        return [helper.make_node("QuantizeLinear", [src, f"s_{k}", f"z_{k}"], [dst + "q"]),
                helper.make_node("DequantizeLinear", [dst + "q", f"s_{k}", f"z_{k}"], [dst])]
    nodes = (qdq("x", "x", "xd") + [helper.make_node("Resize", rin, ["r"], mode="linear",
                                                     coordinate_transformation_mode=coord)]
             + qdq("r", "r", "rd") + qdq("y", "y", "yd")
             + [helper.make_node(join, ["rd", "yd"], ["s"], **({"axis": 1} if join == "Concat" else {}))]
             + qdq("s", "s", "out"))
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, *hw]),
           helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c, *out_hw])]
    g = helper.make_graph(nodes, "resize_add", ins, [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m, grids["s"]


def _samples(m, n, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [[d.dim_value for d in i.type.tensor_type.shape.dim] for i in m.graph.input]
    return [(rng.standard_normal([n] + s[1:]) * 1.5).astype(np.float32) for s in shapes]


def _ort_int8(path, xs, grid):
    sess = ort_session(path)
    names = [i.name for i in sess.get_inputs()]
    ys = [sess.run(None, dict(zip(names, [x[i:i + 1] for x in xs])))[0] for i in range(len(xs[0]))]
    return np.round(np.concatenate(ys) / np.float32(grid[0])) + grid[1]


@pytest.mark.parametrize("coord, hw, out_hw, scales", [
    ("align_corners", (6, 6), (12, 12), False), ("half_pixel", (5, 7), (11, 9), False),
    ("pytorch_half_pixel", (6, 6), (12, 12), True), ("asymmetric", (7, 5), (3, 4), False)])
def test_resize_rule_equals_onnxruntime(tmp_path, coord, hw, out_hw, scales):
    """Golden model of the bilinear resize (+ add) under requant="ort" identical to onnxruntime;
    under "single" (1/1024 integer weights) it is not. With a concat behind it (unet's pattern) the
    resize rounds to its own grid and the concat's input requantization stays (onnxruntime rounds
    twice there too)."""
    join = "Concat" if scales else "Add"
    m, grid = _resize_add_qdq(coord, hw, out_hw, scales=scales, join=join)
    path = tmp_path / "m.onnx"
    onnx.save(m, path)
    xs = _samples(m, 6)
    want = _ort_int8(path, xs, grid)
    differs = {}
    for mode in ("single", "ort"):
        res = compile_model(path, tmp_path / mode, quiet=True, requant=mode)
        got, _ = simulate(res.out_dir, "reference", xs, quiet=True)
        differs[mode] = int(np.count_nonzero(got.reshape(want.shape) != want))
    assert differs["ort"] == 0 and differs["single"] > 0, differs


@pytest.mark.parametrize("board, target", [("host", "cortex-m4"), ("mps2-an386", "cortex-m4"),
                                           ("mps3-an547", "cortex-m55"), ("microbit", "cortex-m0")])
def test_resize_add_kernels_equal_onnxruntime(tmp_path, board, target):
    """mcf_resize_bilinear_s8_ort (float32, no fused multiply-add: FPU on M4 / M55, software float
    on M0) and mcf_add_s8_ort in one model: host C and QEMU identical to onnxruntime."""
    m, grid = _resize_add_qdq()
    path = tmp_path / "m.onnx"
    onnx.save(m, path)
    xs = _samples(m, 3, seed=1)
    res = compile_model(path, tmp_path / "lib", quiet=True, requant="ort", target=target)
    assert {p.name for p in res.out_dir.rglob("mcf_*_ort.c")} == {"mcf_add_s8_ort.c", "mcf_resize_bilinear_s8_ort.c"}
    got, _ = simulate(res.out_dir, board, xs, quiet=True)
    want = _ort_int8(path, xs, grid)
    assert np.array_equal(got.reshape(want.shape), want)


# Every corpus network under requant="ort", both exporters, onnxruntime's QDQ model on the fixture
# inputs: host C within 1 LSB of onnxruntime on every output, and at least this share identical
# (measured; mobilenet_v2 and unet were 87.5 % / 99.99 % within 1 LSB under "single").
ORT_CORPUS_EXACT = {"autoencoder": 0.99, "ds_cnn": 1.0, "efficientnet_b0": 1.0, "efficientnet_lite": 1.0,
                    "kwt": 0.45, "mnasnet": 1.0, "mobilenet_v1": 1.0, "mobilenet_v2": 1.0,
                    "mobilenet_v3_small": 0.9, "resnet": 1.0, "shufflenet_v2": 1.0, "squeezenet": 0.9,
                    "tiny_yolo": 1.0, "unet": 1.0}
# where the dynamo export measured lower (mobilenet_v3_small: 45 % identical, as under "single";
# its 1-LSB flips come from one depthwise conv's float32 accumulation in onnxruntime)
ORT_CORPUS_EXACT_DYNAMO = {"mobilenet_v3_small": 0.45}


@pytest.mark.slow
@pytest.mark.parametrize("exporter", ["ts", "dynamo"])
@pytest.mark.parametrize("net", list(ORT_CORPUS_EXACT))
def test_ort_rule_corpus(net, exporter, tmp_path):
    r = check.onnx_int8(net, exporter, tmp_path, requant="ort")
    print(f"\n{net}.{exporter} ort: {r['exact']:.4f} identical, {r['within1']:.4f} within 1 LSB, max {r['max_lsb']}")
    bar = ORT_CORPUS_EXACT_DYNAMO.get(net, ORT_CORPUS_EXACT[net]) if exporter == "dynamo" else ORT_CORPUS_EXACT[net]
    assert r["within1"] == 1.0 and r["exact"] >= bar, r
