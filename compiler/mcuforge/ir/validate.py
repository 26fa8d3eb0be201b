"""Graph-level checks after import, before any pass runs (issue 15): the graph is a well-formed
SSA DAG with operators and outputs, every tensor has a usable shape, constants are finite where
the integer contract needs them, and quantization parameters are legal. Every refusal is a
McuforgeError naming the tensor or node. Format-specific structure (ONNX names, TFLite indices) is
checked before import by frontend/validate_onnx.py and frontend/validate_tflite.py."""
from __future__ import annotations

import networkx as nx
import numpy as np

from ..errors import McuforgeError
from .graph import Graph
from .tensor import QuantParams

MAX_TENSOR_BYTES = 1 << 31        # no device array (or C size_t on a 32-bit target) beyond this
F32_TINY = float(np.finfo(np.float32).tiny)  # the smallest normal float32
INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "int32": (-(1 << 31), (1 << 31) - 1)}


def check_quant(q: QuantParams, what: str, dtype: str, shape: tuple | None = None):
    """Scales finite, positive and normal float32; zero points in the type's range; per-channel
    parameters matching the channel count."""
    s = np.asarray(q.scale, np.float64)
    if s.size == 0:
        raise McuforgeError(f"{what}: quantization without a scale")
    bad = s[~np.isfinite(s) | (s <= 0)]
    if bad.size:
        raise McuforgeError(f"{what}: quantization scale {bad[0]:g} (scales must be finite and positive)")
    if np.any(s < F32_TINY):
        raise McuforgeError(f"{what}: quantization scale {s.min():g} is below the smallest normal float32 "
                            f"({F32_TINY:g}); its requantization multipliers would not be representable")
    zp = np.asarray(q.zero_point, np.int64)
    if zp.size not in (1, s.size):
        raise McuforgeError(f"{what}: {zp.size} zero points for {s.size} scales")
    lo, hi = INT_RANGES.get(dtype, (-(1 << 31), (1 << 31) - 1))
    if np.any((zp < lo) | (zp > hi)):
        z = zp[(zp < lo) | (zp > hi)][0]
        raise McuforgeError(f"{what}: zero point {z} outside the {dtype} range [{lo}, {hi}]")
    if q.per_channel and shape is not None:
        if not 0 <= q.axis < len(shape):
            raise McuforgeError(f"{what}: quantized dimension {q.axis} for a tensor of rank {len(shape)}")
        if s.size != shape[q.axis]:
            raise McuforgeError(f"{what}: {s.size} scales along dimension {q.axis}, which has "
                                f"{shape[q.axis]} entries")
    elif s.size > 1 and q.axis is None:
        raise McuforgeError(f"{what}: {s.size} scales without a quantized axis")


def validate_graph(g: Graph, quant: str | None = None) -> Graph:
    """quant: the numeric mode the graph is compiled to ("int8" refuses non-finite constants)."""
    if not g.nodes:
        raise McuforgeError("the model has no operators; nothing to compile")
    if not g.inputs:
        raise McuforgeError("the model has no inputs; nothing to compute at run time")
    if not g.outputs:
        raise McuforgeError("the model has no outputs; nothing to compile")
    if not nx.is_directed_acyclic_graph(g.nx):
        cycle = nx.find_cycle(g.nx)
        raise McuforgeError(f"the graph has a cycle through node {cycle[0][0]!r}")
    for name in g.outputs:
        if name not in g.tensors:
            raise McuforgeError(f"graph output {name!r} is not a tensor of the model")
        if g.producer(name) is None:
            raise McuforgeError(f"graph output {name!r} is not computed by any operator")
    used = set()
    for node in g.nodes.values():
        for t in node.inputs:
            if not t:
                continue
            if t not in g.tensors:
                raise McuforgeError(f"node {node.name!r} ({node.op}) reads {t!r}, which no operator, "
                                    f"input or constant defines")
            used.add(t)
            tt = g.tensors[t]
            if tt.data is None and t not in g.inputs and g.producer(t) is None:
                raise McuforgeError(f"node {node.name!r} ({node.op}) reads {t!r}, which is never computed")
    for node in g.nodes.values():
        check_params(g, node)
    for name in g.inputs:
        if name not in used and name not in g.outputs:
            raise McuforgeError(f"graph input {name!r} is not used by any operator (remove it from the model)")
    for name, t in g.tensors.items():
        if any(d <= 0 for d in t.shape):
            raise McuforgeError(f"tensor {name!r} has shape {t.shape}: every dimension must be positive")
        if t.nbytes >= MAX_TENSOR_BYTES:
            raise McuforgeError(f"tensor {name!r} of shape {t.shape} needs {t.nbytes} bytes, "
                                f"more than a device can address")
        if t.quant is not None:
            # activations live on the int8 grid whatever their float dtype before quantization;
            # constants keep their own (int8 weights, int32 biases)
            check_quant(t.quant, f"tensor {name!r}", "int8" if t.data is None else t.dtype if t.dtype != "float32"
                        else "int32", t.shape)
            if t.data is None and t.quant.scale.size > 1:
                raise McuforgeError(f"tensor {name!r}: per-channel quantization on an activation")
    int8 = quant == "int8" or g.meta.get("quant") == "int8"
    why = ("which have no int8 representation" if int8 else
           "whose results would depend on how each kernel propagates NaN (float32 refuses them too)")
    if g.meta.get("nonfinite_constants"):
        raise McuforgeError(f"initializer {g.meta['nonfinite_constants'][0]!r} holds NaN or infinite values, {why}")
    for name, t in g.tensors.items():
        if t.data is not None and t.data.dtype.kind == "f" and not np.all(np.isfinite(t.data)):
            raise McuforgeError(f"constant {name!r} holds NaN or infinite values, {why}")
    if g.meta.get("quant") == "int8":
        for name, t in g.tensors.items():
            if t.dtype == "int8" and t.quant is None:
                raise McuforgeError(f"int8 tensor {name!r} has no quantization parameters")
    return g


def check_params(g: Graph, node):
    """Per-channel parameters match the channel count they scale (bias, BatchNorm statistics)."""
    ins = [g.tensors[t] if t else None for t in node.inputs]
    operands = {"add": (0, 1), "sub": (0, 1), "mul": (0, 1), "conv2d": (0, 1), "dense": (0, 1)}
    for k in operands.get(node.op, ()):
        t = ins[k] if k < len(ins) else None
        if t is not None and t.dtype != "float32" and not (t.dtype in ("int8", "int16") and t.quant is not None):
            raise McuforgeError(f"{node.op} node {node.name!r}: operand {t.name!r} is {t.dtype}"
                                f"{'' if t.quant is not None else ' without quantization parameters'}; "
                                f"operands are float32 or quantized int8 / int16")
    if node.op in ("conv2d", "dense") and len(ins) > 2 and ins[2] is not None and len(ins[1].shape) >= 1:
        cout = ins[1].shape[0]
        if ins[2].shape != (cout,):
            raise McuforgeError(f"{node.op} node {node.name!r}: bias {ins[2].name!r} has shape {ins[2].shape}, "
                                f"the layer has {cout} output channels")
    if node.op == "batchnorm" and ins and ins[0] is not None and ins[0].shape:
        c = ins[0].shape[-1]
        for t in ins[1:]:
            if t is not None and t.size != c:
                raise McuforgeError(f"batchnorm node {node.name!r}: parameter {t.name!r} has {t.size} values "
                                    f"for {c} channels")
