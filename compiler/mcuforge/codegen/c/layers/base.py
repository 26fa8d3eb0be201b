"""Layer: what the C backend needs to emit one node. Builders are registered per (op, dtype)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ....errors import UnsupportedOpError
from ....ir.graph import Graph, Node
from ..kernel_select import KernelSelector

BUILDERS: dict[tuple[str, str], callable] = {}


def builder(op: str, dtype: str):
    def deco(fn):
        BUILDERS[(op, dtype)] = fn
        return fn
    return deco


@dataclass
class CArray:
    """A constant array in flash (weights file)."""
    name: str
    ctype: str
    values: np.ndarray
    alias: str | None = None           # an identical array emitted once under this name

    @property
    def nbytes(self) -> int:
        """Bytes in flash: the C element type's size (the numpy values may be wider, e.g. int64)."""
        return int(self.values.size) * C_SIZES.get(self.ctype, self.values.itemsize)


C_SIZES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4, "float": 4,
           "int64_t": 8}


@dataclass
class TensorRef:
    """Where a tensor lives at run time: the arena, a caller's I/O buffer, or flash."""
    kind: str          # arena | input | output | const
    ctype: str
    name: str          # C identifier of the buffer (parameter or array name)
    offset: int = 0    # arena offset


@dataclass
class Layer:
    node: Node
    template: str                      # templates/c/layers/<template>.j2
    kernel: str                        # C function
    sources: list[str]                 # runtime_c/kernels/*.c files it needs
    inputs: list[TensorRef]
    outputs: list[TensorRef]
    params: dict = field(default_factory=dict)
    arrays: list[CArray] = field(default_factory=list)
    cid: str = ""                      # C identifier prefix for this layer's objects
    macs: int = 0


@dataclass
class LayerContext:
    g: Graph
    refs: dict[str, TensorRef]
    select: KernelSelector
    index: int = 0

    def array(self, layer_id: str, what: str, ctype: str, values) -> CArray:
        return CArray(f"{layer_id}_{what}", ctype, np.ascontiguousarray(values))


def build_layer(ctx: LayerContext, node: Node) -> Layer:
    g = ctx.g
    from ....ir.ops.int16 import is_int16_node
    dtype = "int16" if is_int16_node(g, node) else "int8" if g.tensors[node.outputs[0]].dtype == "int8" or \
        (node.inputs and g.tensors[node.inputs[0]].dtype == "int8") else "float32"
    if g.meta.get("quant") == "fixed":
        dtype = "fixed"  # power-of-two scales: layers/fixed.py
    fn = BUILDERS.get((node.op, dtype))
    if fn is None:
        raise UnsupportedOpError(node.op, node.name, f"no {dtype} C kernel")
    cid = f"L{ctx.index}"
    layer = fn(ctx, node, cid)
    layer.cid = cid
    return layer


def window(g: Graph, node: Node, x: str, y: str, kernel_hw, strides, dilations, pads) -> dict:
    n, h, w, c = g.tensors[x].shape
    _, oh, ow, oc = g.tensors[y].shape
    return {"batch": n, "in_h": h, "in_w": w, "in_c": c, "out_h": oh, "out_w": ow, "out_c": oc,
            "k_h": kernel_hw[0], "k_w": kernel_hw[1], "stride_h": strides[0], "stride_w": strides[1],
            "dil_h": dilations[0], "dil_w": dilations[1], "pad_top": pads[0], "pad_left": pads[1]}


def float_act(node: Node) -> tuple[float, float]:
    lo, hi = node.attrs.get("act_min"), node.attrs.get("act_max")
    return (-np.inf if lo is None else lo), (np.inf if hi is None else hi)
