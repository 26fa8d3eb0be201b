"""A QFX model -> QONNX: every QFX tensor's type becomes a `Quant` node (scale 2**-F, zero point 0,
W bits, signed, ROUND or FLOOR), weights are stored already on their grid under a Quant node, biases
on the accumulator's grid. The graph is recorded by running the model once with forward hooks on
the QFX layers, so the model must be built from QFX layers only (torch ops between them would not
be recorded and raise)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...reference.fixed_arith import FixedType
from . import layers as L

DOMAIN = "qonnx.custom_op.general"
QONNX_ROUNDING = {"rne": "ROUND", "trn": "FLOOR"}
FLOAT32_EXACT_BITS = 24


class _Recorder:
    def __init__(self):
        from onnx import helper, numpy_helper
        self.helper, self.nh = helper, numpy_helper
        self.nodes, self.inits, self.names, self.keep, self.count = [], [], {}, [], 0
        self.opset = 13  # 14 once a HardSwish is written

    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def init(self, base: str, value) -> str:
        name = self.fresh(base)
        arr = np.asarray(value, np.float64)
        f32 = arr.astype(np.float32)
        if not np.array_equal(f32.astype(np.float64), arr):
            raise ValueError(f"{base}: values need more than {FLOAT32_EXACT_BITS} bits; QONNX stores float32")
        self.inits.append(self.nh.from_array(f32, name))
        return name

    def name_of(self, t: torch.Tensor, who: str) -> str:
        if id(t) not in self.names:
            raise ValueError(f"{who}: its input was not produced by a QFX layer (export records QFX layers only)")
        return self.names[id(t)]

    def bind(self, t: torch.Tensor, name: str):
        self.names[id(t)] = name
        self.keep.append(t)

    def node(self, op: str, inputs: list[str], base: str, domain: str = "", **attrs) -> str:
        out = self.fresh(base)
        self.nodes.append(self.helper.make_node(op, inputs, [out], name=out, domain=domain, **attrs))
        return out

    def quant(self, src: str, t: FixedType, base: str) -> str:
        ins = [src, self.init(f"{base}_scale", 2.0 ** -t.frac), self.init(f"{base}_zp", 0.0),
               self.init(f"{base}_bits", float(t.width))]
        return self.node("Quant", ins, f"{base}_q", DOMAIN, signed=1, narrow=0, rounding_mode=QONNX_ROUNDING[t.rounding])

    def finish(self, m, src: str, y, base: str):
        """A layer's output: clamp and Quant, or for act="hardswish" Quant, HardSwish, Quant."""
        if m.act == "hardswish":
            q = self.quant(src, m.oq.type, base)
            self.bind(y, self.quant(self.node("HardSwish", [q], f"{base}_hswish"), m.hs.oq.type, f"{base}_hs"))
            self.opset = 14
        else:
            self.bind(y, self.quant(self.act(src, m.act, base), y.qfx, base))

    def act(self, src: str, act: str | None, base: str) -> str:
        if act == "relu":
            return self.node("Relu", [src], f"{base}_relu")
        if act == "relu6":
            return self.node("Clip", [src, self.init("zero", 0.0), self.init("six", 6.0)], f"{base}_relu6")
        return src


def _emit(rec: _Recorder, name: str, m, inputs, y):
    base = name.replace(".", "_") or "m"
    if isinstance(m, L.QfxInput):
        rec.bind(y, rec.quant(rec.name_of(inputs[0], name), y.qfx, base))
        return
    if isinstance(m, L._Mac):
        x = inputs[0]
        w, b, _ = m.quantized(x)
        wname = rec.quant(rec.init(f"{base}_w", w.detach().numpy()), w.qfx, f"{base}_w")
        ins = [rec.name_of(x, name), wname]
        if b is not None:
            ins.append(rec.init(f"{base}_b", b.detach().numpy()))
        if isinstance(m, L.QfxConv2d):
            c = m.conv
            pads = [int(c.padding[0]), int(c.padding[1])] * 2
            acc = rec.node("Conv", ins, f"{base}_conv", kernel_shape=list(c.kernel_size), strides=list(c.stride),
                           pads=pads, group=int(c.groups))
        else:
            acc = rec.node("Gemm", ins, f"{base}_gemm", transB=1)
        rec.finish(m, acc, y, base)
    elif isinstance(m, L.QfxAdd):
        s = rec.node("Add", [rec.name_of(inputs[0], name), rec.name_of(inputs[1], name)], f"{base}_add")
        rec.finish(m, s, y, base)
    elif isinstance(m, L.QfxBatchNorm2d):  # Mul and Add between Quant nodes, constants on their grids
        s, b = m.quantized()
        c = s.shape[0]
        sq = rec.quant(rec.init(f"{base}_scale", s.detach().numpy().reshape(1, c, 1, 1)), s.qfx, f"{base}_s")
        bq = rec.quant(rec.init(f"{base}_shift", b.detach().numpy().reshape(1, c, 1, 1)), b.qfx, f"{base}_b")
        prod = rec.node("Mul", [rec.name_of(inputs[0], name), sq], f"{base}_mul")
        rec.finish(m, rec.node("Add", [prod, bq], f"{base}_add"), y, base)
    elif isinstance(m, L.QfxHardswish):
        h = rec.node("HardSwish", [rec.name_of(inputs[0], name)], f"{base}_hswish")
        rec.opset = 14
        rec.bind(y, rec.quant(h, y.qfx, base))
    elif isinstance(m, L.QfxConcat):
        cat = rec.node("Concat", [rec.name_of(t, name) for t in inputs], f"{base}_concat", axis=int(m.dim))
        rec.bind(y, rec.quant(cat, y.qfx, base))
    elif isinstance(m, L.QfxMaxPool):
        k, s = m.kernel, m.stride
        k, s = (k, k) if isinstance(k, int) else k, (s, s) if isinstance(s, int) else s
        rec.bind(y, rec.node("MaxPool", [rec.name_of(inputs[0], name)], f"{base}_maxpool",
                             kernel_shape=list(k), strides=list(s)))
    elif isinstance(m, L.QfxAvgPool):
        p = rec.node("GlobalAveragePool", [rec.name_of(inputs[0], name)], f"{base}_gap")
        rec.bind(y, rec.quant(p, y.qfx, base))  # the input's own type: the fixed scheme keeps it
    elif isinstance(m, L.QfxFlatten):
        rec.bind(y, rec.node("Flatten", [rec.name_of(inputs[0], name)], f"{base}_flatten", axis=1))


def export_qonnx(model: torch.nn.Module, x: torch.Tensor, path, input_name: str = "x",
                 output_name: str = "y") -> Path:
    """Write `model` (eval mode, calibrated) as a QONNX file for one input of x's shape (batch 1)."""
    import onnx
    from onnx import TensorProto, helper
    rec = _Recorder()
    x = x[:1].to(torch.float64)
    rec.bind(x, input_name)
    hooks = []
    qfx_types = (L.QfxInput, L._Mac, L.QfxAdd, L.QfxMaxPool, L.QfxAvgPool, L.QfxFlatten, L.QfxBatchNorm2d,
                 L.QfxConcat, L.QfxHardswish)
    inner = {id(m.hs) for m in model.modules() if isinstance(m, L._Output) and m.act == "hardswish"}
    for name, m in model.named_modules():
        if isinstance(m, qfx_types) and id(m) not in inner:  # an act="hardswish" is its layer's
            hooks.append(m.register_forward_hook(lambda mod, ins, out, name=name: _emit(rec, name, mod, ins, out)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            y = model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    last = rec.name_of(y, "the model's output")
    rec.nodes.append(helper.make_node("Identity", [last], [output_name], name="output"))
    graph = helper.make_graph(rec.nodes, type(model).__name__,
                              [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, list(y.shape))],
                              initializer=rec.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", rec.opset), helper.make_opsetid(DOMAIN, 2)],
                              producer_name="mcuforge.qfx")
    path = Path(path)
    onnx.save(proto, str(path))
    return path
