"""Write a float ONNX model as a fully quantized QDQ model: every activation (graph inputs and every
node output) goes through QuantizeLinear -> DequantizeLinear with int8 parameters from calibration
ranges, Conv / Gemm weights become per-channel symmetric int8 (biases int32 at s_in * s_w), every
other float constant per-tensor int8. onnxruntime run with graph optimizations off then simulates
int8 inference exactly (float op between a DQ and a Q), which is the oracle the int8 chain is held
to within 1 LSB; unlike onnxruntime's own quantizer it quantizes every op, not only those in its
registry."""
from __future__ import annotations

import numpy as np

FIXED_GRID = {"Sigmoid": (1 / 256, -128), "Softmax": (1 / 256, -128), "LogSoftmax": (16 / 256, 127)}


def ort_session(model_or_path, optimize: bool = False):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    if not optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    src = model_or_path.SerializeToString() if hasattr(model_or_path, "SerializeToString") else str(model_or_path)
    return ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])


def activation_ranges(model, feeds: list[dict]) -> dict[str, tuple[float, float]]:
    """min / max of every graph input and node output over the feeds (onnxruntime, float)."""
    import onnx
    m = onnx.ModelProto.FromString(model.SerializeToString())
    names = [o for n in m.graph.node for o in n.output if o]
    known = {o.name for o in m.graph.output}
    m.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names if n not in known)
    sess = ort_session(m)
    outs = [o.name for o in sess.get_outputs()]
    lo, hi = {}, {}
    for f in feeds:
        vals = dict(zip(outs, sess.run(outs, f)))
        vals.update(f)
        for k, v in vals.items():
            v = np.asarray(v)
            if v.dtype != np.float32 or v.size == 0:
                continue
            lo[k] = min(lo.get(k, np.inf), float(v.min()))
            hi[k] = max(hi.get(k, -np.inf), float(v.max()))
    return {k: (lo[k], hi[k]) for k in lo}


def _act_qparams(lo, hi):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max(hi - lo, 1e-8) / 255.0
    zp = int(np.clip(np.round(-128 - lo / scale), -128, 127))
    return np.float32(scale), np.int8(zp)


def quantize_model(model, feeds: list[dict]):
    """The QDQ version of a float model (opset raised to 13 if lower, for per-axis DQ)."""
    import onnx
    from onnx import helper, numpy_helper
    ranges = activation_ranges(model, feeds)
    m = onnx.ModelProto.FromString(model.SerializeToString())
    g = m.graph
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx") and o.version < 13:
            o.version = 13
    for n in [n for n in g.node if n.op_type == "Constant"]:  # constants as initializers
        g.initializer.append(numpy_helper.from_array(numpy_helper.to_array(n.attribute[0].t), n.output[0]))
        g.node.remove(n)
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    new_inits, nodes = [], []
    qparams: dict[str, tuple] = {}

    def act_q(name):
        if name not in qparams:
            p = producers.get(name)
            fixed = FIXED_GRID.get(p.op_type) if p is not None else None
            qparams[name] = (np.float32(fixed[0]), np.int8(fixed[1])) if fixed else _act_qparams(*ranges[name])
        return qparams[name]

    def qdq(name):
        s, z = act_q(name)
        sn, zn = f"{name}__s", f"{name}__z"
        new_inits.extend([numpy_helper.from_array(np.array(s, np.float32), sn),
                          numpy_helper.from_array(np.array(z, np.int8), zn)])
        nodes.append(helper.make_node("QuantizeLinear", [name, sn, zn], [f"{name}__q"]))
        nodes.append(helper.make_node("DequantizeLinear", [f"{name}__q", sn, zn], [f"{name}__dq"]))
        return f"{name}__dq"

    def const_dq(name, node, idx, x_scale=None):
        w = inits[name].astype(np.float64)
        out = f"{name}__{node.name or node.op_type}_{idx}_dq"
        if node.op_type in ("Conv", "Gemm") and idx == 1:
            axis = 0
            if node.op_type == "Gemm" and not any(a.name == "transB" and a.i for a in node.attribute):
                axis = 1
            red = tuple(i for i in range(w.ndim) if i != axis)
            s = np.maximum(np.abs(w).max(axis=red), 1e-8) / 127.0
            shape = [1] * w.ndim
            shape[axis] = -1
            q = np.clip(np.round(w / s.reshape(shape)), -127, 127).astype(np.int8)
            z = np.zeros_like(q.reshape(q.shape[axis], -1)[:, 0] if axis == 0 else s, np.int8)
            attrs = {"axis": axis}
            weight_scales[node.name] = s
        elif node.op_type in ("Conv", "Gemm") and idx == 2:
            s = (x_scale * weight_scales[node.name]).astype(np.float32)
            q = np.round(w / s).astype(np.int32)
            z, attrs = np.zeros(s.shape, np.int32), {"axis": 0}
        else:
            s, z = _act_qparams(float(w.min()), float(w.max()))
            q = np.clip(np.round(w / s) + z, -128, 127).astype(np.int8)
            attrs = {}
        new_inits.extend([numpy_helper.from_array(q, f"{out}_q"),
                          numpy_helper.from_array(np.asarray(s, np.float32), f"{out}_s"),
                          numpy_helper.from_array(np.asarray(z), f"{out}_z")])
        nodes.append(helper.make_node("DequantizeLinear", [f"{out}_q", f"{out}_s", f"{out}_z"], [out], **attrs))
        return out

    weight_scales: dict[str, np.ndarray] = {}
    renamed = {vi.name: qdq(vi.name) for vi in g.input if vi.name not in inits}
    for n in g.node:
        ins = []
        for k, i in enumerate(n.input):
            if i in inits and inits[i].dtype == np.float32 and inits[i].size > 0 and n.op_type not in ("Reshape",):
                x_scale = act_q(n.input[0])[0] if k == 2 else None
                ins.append(const_dq(i, n, k, x_scale))
            else:
                ins.append(renamed.get(i, i))
        new = helper.make_node(n.op_type, ins, list(n.output), name=n.name, domain=n.domain)
        new.attribute.extend(n.attribute)
        nodes.append(new)
        for o in n.output:
            if o in ranges or (n.op_type in FIXED_GRID):
                renamed[o] = qdq(o)
    outs = {o.name for o in g.output}
    final = list(nodes)
    for o in outs:  # each graph output reads its DQ (renamed "<name>__out")
        if o in renamed:
            final.append(helper.make_node("Identity", [renamed[o]], [o + "__out"]))
    del g.node[:]
    g.node.extend(final)
    for vo in g.output:
        if vo.name in renamed:
            vo.name = vo.name + "__out"
    g.initializer.extend(new_inits)
    return m
