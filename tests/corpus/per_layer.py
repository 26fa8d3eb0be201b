"""Per-layer oracle for the int8 corpus check: each layer of our int8 graph given OUR int8 input,
against onnxruntime running just that layer of its own QDQ model.

tests/corpus/check.py compares whole networks, where 1-LSB rounding differences (onnxruntime
requantizes in float, round half to even; we in TFLite's integer multiplier-and-shift arithmetic)
can compound with depth. Here every layer is fed the same int8 tensors on both sides, so only that
layer's own arithmetic can differ: a layer off by more than 1 LSB is a bug, not compounding.

For every int8 node N of the golden model (same name as the ONNX compute node it came from), the
onnxruntime sub-model runs from the QuantizeLinear outputs feeding N's activation inputs (through
their DequantizeLinear) to the QuantizeLinear of N's output (onnx.utils.extract_model), without
graph optimizations, so onnxruntime simulates quantization exactly.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _q_output(model, tensor: str):
    """The QuantizeLinear that `tensor` (a float compute-node output) ends in: its output, scale
    and zero point."""
    from onnx import numpy_helper
    inits = {i.name: i for i in model.graph.initializer}
    cons = {}
    for n in model.graph.node:
        for i in n.input:
            cons.setdefault(i, []).append(n)
    t = tensor
    for _ in range(8):
        nxt = cons.get(t, [])
        if len(nxt) != 1:
            break
        if nxt[0].op_type == "QuantizeLinear":
            scale, zp = (float(numpy_helper.to_array(inits[i])) for i in nxt[0].input[1:3])
            return nxt[0].output[0], scale, zp
        t = nxt[0].output[0]
    raise LookupError(f"no QuantizeLinear after {tensor}")


def _dq_source(model, tensor: str) -> str | None:
    """The int8 tensor a DequantizeLinear output `tensor` reads, None for a weight / bias."""
    inits = {i.name for i in model.graph.initializer}
    for n in model.graph.node:
        if tensor in n.output and n.op_type == "DequantizeLinear":
            return None if n.input[0] in inits else n.input[0]
    return None


def _to_onnx(a: np.ndarray, shape) -> np.ndarray:
    """Our tensor in onnxruntime's layout: rank-4 activations are NHWC here (the ONNX frontend's
    layout for image tensors), NCHW in the ONNX model."""
    if a.ndim == 4:
        a = a.transpose(0, 3, 1, 2)
    return a.reshape(tuple(shape))


def compare_layers(qdq_path: Path, g, x: np.ndarray, tmp: Path) -> list[dict]:
    """Per golden-model int8 node (in execution order): op, name, share of identical outputs and
    of outputs within 1 LSB of onnxruntime's layer given the same int8 input, max LSB difference."""
    import onnx
    from onnx.utils import extract_model

    from mcuforge.reference.executor import Executor, is_integer_node
    from corpus.check import _ort_session

    model = onnx.load(str(qdq_path))
    by_name = {n.name: n for n in model.graph.node}
    (inp,) = g.inputs
    qi = g.tensors[inp].quant
    xq = np.clip(np.round(x / qi.scale[0]) + qi.zero_point[0], -128, 127).astype(np.int8)
    perm = g.meta.get("io_perm", {}).get(inp)
    if perm:
        xq = xq.transpose(perm)
    ex = Executor(g)
    envs = [ex.run({inp: xq[i:i + 1]}, keep_all=True) for i in range(len(x))]
    rows = []
    for k, node in enumerate(ex.order):
        if not is_integer_node(g, node) or g.tensors[node.outputs[0]].dtype != "int8":
            continue
        onode = by_name.get(node.name)
        if onode is None and (node.op == "reshape" or (node.op == "lut" and node.name.endswith("_rq"))):
            continue    # a reshape of our own around a layer (a rank-2 BatchNorm's 1x1 convolution)
        if onode is None:
            raise LookupError(f"{node.op} {node.name}: no onnxruntime node of that name")
        ours_in = [t for t in node.inputs if t and g.tensors[t].data is None]
        # a concat's inputs requantized to its grid by tables of our own (<node>_rq): onnxruntime's
        # concat reads the tables' inputs, so compare the pair as one layer
        prod = {o: n for n in g.nodes.values() for o in n.outputs}
        ours_in = [prod[t].inputs[0] if t in prod and prod[t].op == "lut" and prod[t].name.endswith("_rq") else t
                   for t in ours_in]
        ort_in = [s for s in (_dq_source(model, t) for t in onode.input if t) if s]
        if len(ours_in) != len(ort_in):
            raise LookupError(f"{node.op} {node.name}: inputs {ours_in} vs {ort_in}")
        ort_out, scale, zp = _q_output(model, onode.output[0])
        q = g.tensors[node.outputs[0]].quant
        if not (np.isclose(q.scale[0], scale, rtol=1e-6) and q.zero_point[0] == zp):
            raise ValueError(f"{node.op} {node.name}: output grid {q.scale[0]}/{q.zero_point[0]}, "
                             f"onnxruntime's {scale}/{zp}")
        sub = tmp / f"layer{k}.onnx"
        extract_model(str(qdq_path), str(sub), list(dict.fromkeys(ort_in)), [ort_out])
        sess = _ort_session(sub, disable_opt=True)
        shapes = {i.name: [s if isinstance(s, int) else 1 for s in i.shape] for i in sess.get_inputs()}
        d = []
        for env in envs:
            feeds = {o: _to_onnx(env[t], shapes[o]) for o, t in zip(ort_in, ours_in) if o in shapes}
            want = sess.run(None, feeds)[0]
            got = _to_onnx(env[node.outputs[0]], want.shape)
            d.append(np.abs(got.astype(np.int64) - want.astype(np.int64)).reshape(-1))
        d = np.concatenate(d)
        rows.append({"op": node.op, "name": node.name, "exact": float(np.mean(d == 0)),
                     "within1": float(np.mean(d <= 1)), "max_lsb": int(d.max())})
    return rows
