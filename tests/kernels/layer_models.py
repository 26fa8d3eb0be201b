"""One-layer (or many independent one-layer branches) ONNX models for kernel tests and benchmarks.

Each spec is a dict describing one layer; `build_model` puts all specs side by side as independent
branches of one model (input_i -> layer_i -> output_i), so one firmware build and one QEMU run
check many layer configurations at once."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def conv_spec(in_c, out_c, hw, k=3, stride=1, pad=None, dil=1, groups=1, relu=False, bias=True):
    h, w = (hw, hw) if isinstance(hw, int) else hw
    kh, kw = (k, k) if isinstance(k, int) else k
    if pad is None:
        pad = ((kh - 1) * dil // 2, (kw - 1) * dil // 2)
    elif isinstance(pad, int):
        pad = (pad, pad)
    return {"op": "conv", "in_c": in_c, "out_c": out_c, "h": h, "w": w, "kh": kh, "kw": kw,
            "stride": stride, "pad": pad, "dil": dil, "groups": groups, "relu": relu, "bias": bias}


def dw_spec(c, hw, k=3, stride=1, mult=1, pad=None, dil=1, relu=False):
    s = conv_spec(c, c * mult, hw, k, stride, pad, dil, groups=c, relu=relu)
    return s


def fc_spec(in_f, out_f, relu=False, bias=True):
    return {"op": "fc", "in_f": in_f, "out_f": out_f, "relu": relu, "bias": bias}


def pool_spec(kind, c, hw, k=2, stride=2, pad=0, include_pad=False):
    h, w = (hw, hw) if isinstance(hw, int) else hw
    s = {"op": kind, "c": c, "h": h, "w": w, "k": k, "stride": stride, "pad": pad}
    if include_pad:   # AveragePool's count_include_pad
        s["include_pad"] = True
    return s


def add_spec(c, hw, relu=False, same=False):
    """same: x + x (one input twice, so both operands have one scale)."""
    h, w = (hw, hw) if isinstance(hw, int) else hw
    s = {"op": "add", "c": c, "h": h, "w": w, "relu": relu}
    if same:
        s["same"] = True
    return s


def macs(s) -> int:
    if s["op"] == "conv":
        oh = (s["h"] + 2 * s["pad"][0] - s["dil"] * (s["kh"] - 1) - 1) // s["stride"] + 1
        ow = (s["w"] + 2 * s["pad"][1] - s["dil"] * (s["kw"] - 1) - 1) // s["stride"] + 1
        return oh * ow * s["out_c"] * s["kh"] * s["kw"] * s["in_c"] // s["groups"]
    if s["op"] == "fc":
        return s["in_f"] * s["out_f"]
    return 0


def _branch(i, s, rng):
    x = f"x{i}"
    y = f"y{i}"
    nodes, inits = [], []
    if s["op"] == "conv":
        shape = [1, s["in_c"], s["h"], s["w"]]
        wt = rng.normal(0, 1.0 / np.sqrt(s["kh"] * s["kw"] * s["in_c"] / s["groups"]),
                        (s["out_c"], s["in_c"] // s["groups"], s["kh"], s["kw"])).astype(np.float32)
        inits.append(numpy_helper.from_array(wt, f"w{i}"))
        ins = [x, f"w{i}"]
        if s["bias"]:
            inits.append(numpy_helper.from_array(rng.normal(0, 0.2, s["out_c"]).astype(np.float32), f"b{i}"))
            ins.append(f"b{i}")
        ph, pw = s["pad"]
        out = y if not s["relu"] else f"c{i}"
        nodes.append(helper.make_node("Conv", ins, [out], kernel_shape=[s["kh"], s["kw"]],
                                      strides=[s["stride"]] * 2, pads=[ph, pw, ph, pw],
                                      dilations=[s["dil"]] * 2, group=s["groups"]))
    elif s["op"] == "fc":
        shape = [1, s["in_f"]]
        wt = rng.normal(0, 1.0 / np.sqrt(s["in_f"]), (s["in_f"], s["out_f"])).astype(np.float32)
        inits.append(numpy_helper.from_array(wt, f"w{i}"))
        ins = [x, f"w{i}"]
        if s["bias"]:
            inits.append(numpy_helper.from_array(rng.normal(0, 0.2, s["out_f"]).astype(np.float32), f"b{i}"))
            ins.append(f"b{i}")
        out = y if not s["relu"] else f"c{i}"
        nodes.append(helper.make_node("Gemm", ins, [out]))
    elif s["op"] in ("maxpool", "avgpool"):
        shape = [1, s["c"], s["h"], s["w"]]
        p = s["pad"]
        extra = {"count_include_pad": 1} if s.get("include_pad") else {}
        nodes.append(helper.make_node("MaxPool" if s["op"] == "maxpool" else "AveragePool", [x], [y],
                                      kernel_shape=[s["k"]] * 2, strides=[s["stride"]] * 2, pads=[p] * 4,
                                      **extra))
        out = y
    elif s["op"] == "add":
        shape = [1, s["c"], s["h"], s["w"]]
        x2 = f"x{i}b"
        out = y if not s["relu"] else f"c{i}"
        nodes.append(helper.make_node("Add", [x, x if s.get("same") else x2], [out]))
        extra = [] if s.get("same") else [helper.make_tensor_value_info(x2, TensorProto.FLOAT, shape)]
        if s["relu"]:
            nodes.append(helper.make_node("Relu", [out], [y]))
        return nodes, inits, [helper.make_tensor_value_info(x, TensorProto.FLOAT, shape)] + extra, shape
    else:
        raise ValueError(s["op"])
    if s.get("relu"):
        nodes.append(helper.make_node("Relu", [out], [y]))
    return nodes, inits, [helper.make_tensor_value_info(x, TensorProto.FLOAT, shape)], shape


def build_model(specs: list[dict], path: Path, seed: int = 0, n_calib: int = 8) -> tuple[Path, Path, list]:
    """Write the model and a calibration .npz; return (model, calib, input arrays for a test run)."""
    rng = np.random.default_rng(seed)
    nodes, inits, inputs, outputs, calib, test = [], [], [], [], {}, []
    for i, s in enumerate(specs):
        n, it, ins, shape = _branch(i, s, rng)
        nodes += n
        inits += it
        inputs += ins
        outputs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None))
        for vi in ins:
            # asymmetric ranges so that zero points are not 0
            lo, hi = -rng.uniform(0.5, 2.0), rng.uniform(1.0, 3.0)
            calib[vi.name] = rng.uniform(lo, hi, (n_calib,) + tuple(shape)).astype(np.float32)
            test.append(rng.uniform(lo * 1.1, hi * 1.1, (2,) + tuple(shape)).astype(np.float32))
    path, cpath = _save(helper.make_graph(nodes, "layers", inputs, outputs, inits), path, calib)
    return path, cpath, test


def build_chain(in_c: int, hw: int, layers: list[tuple], path: Path, seed: int = 0, n_calib: int = 8):
    """A sequential model (the intermediate tensors live in the arena, where the planner may let an
    output overlap its dying input): layers are ("conv", out_c, k, stride), ("dw", k, stride) or
    ("pw", out_c), each followed by a ReLU. Returns (model, calib, test inputs)."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    c, cur = in_c, "x"
    for i, spec in enumerate(layers):
        kind = spec[0]
        if kind == "conv":
            _, oc, k, s = spec
            groups = 1
        elif kind == "dw":
            _, k, s = spec
            oc, groups = c, c
        else:
            _, oc = spec
            k, s, groups = 1, 1, 1
        wt = rng.normal(0, 1.0 / np.sqrt(k * k * c / groups), (oc, c // groups, k, k)).astype(np.float32)
        inits += [numpy_helper.from_array(wt, f"w{i}"),
                  numpy_helper.from_array(rng.normal(0, 0.2, oc).astype(np.float32), f"b{i}")]
        p = (k - 1) // 2
        nodes.append(helper.make_node("Conv", [cur, f"w{i}", f"b{i}"], [f"c{i}"], kernel_shape=[k, k],
                                      strides=[s, s], pads=[p] * 4, group=groups))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        c, cur = oc, f"r{i}"
    shape = [1, in_c, hw, hw]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(cur, TensorProto.FLOAT, None)], inits)
    path, cpath = _save(graph, path, {"x": rng.uniform(-1, 2, (n_calib,) + tuple(shape)).astype(np.float32)})
    return path, cpath, rng.uniform(-1, 2, (2,) + tuple(shape)).astype(np.float32)


def _save(graph, path, calib: dict) -> tuple[Path, Path]:
    """Write graph as an opset-13 model at path and the calibration arrays beside it (.npz)."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    cpath = path.with_suffix(".npz")
    np.savez(cpath, **calib)
    return path, cpath


def need_qemu():
    """Skip the calling test where the Cortex-M toolchain or QEMU is missing."""
    import pytest

    from mcuforge.errors import McuforgeError
    from mcuforge.sim import toolchain
    try:
        toolchain.qemu_arm()
        toolchain.arm_gcc()
    except McuforgeError as e:
        pytest.skip(f"no Cortex-M toolchain/QEMU here: {e}")


def assert_branches_exact(out_dir, board: str, x, specs: list[dict]) -> dict:
    """Run a compiled build_model() library on `board` and on the golden model; every branch must
    agree byte for byte (the message names the branch's spec and how many values differ).
    Returns the board run's info (instructions, ...)."""
    from mcuforge.api import simulate
    y, info = simulate(out_dir, board=board, x=x, quiet=True)
    ref, _ = simulate(out_dir, board="reference", x=x, quiet=True)
    y, ref = (y, ref) if isinstance(y, list) else ([y], [ref])
    for i, (a, b) in enumerate(zip(y, ref)):
        assert a.shape == b.shape, f"branch {i} ({specs[i]}): shape {a.shape} != {b.shape}"
        bad = int(np.count_nonzero(a != b))
        assert bad == 0, f"branch {i} ({specs[i]}) differs from the golden model at {bad} places"
    return info
