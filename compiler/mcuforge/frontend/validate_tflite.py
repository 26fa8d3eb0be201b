"""Structural and numeric checks of a parsed TFLite model before import (issue 15): operator
input/output indices (-1 only where an input is optional), each tensor written once and never a
constant, shapes positive, quantization parameters finite, positive, with zero points in the
type's range and per-channel counts matching the quantized dimension, int8 tensors carrying their
parameters, operator options (strides, dilations, filter sizes, padding) legal. Each refusal names
the operator or tensor."""
from __future__ import annotations

import numpy as np

from ..errors import McuforgeError
from . import tflite_schema as fb

# operators whose input k may be absent (-1): bias of the weighted ops, the pad value of PADV2
OPTIONAL_INPUTS = {"CONV_2D": {2}, "DEPTHWISE_CONV_2D": {2}, "FULLY_CONNECTED": {2}, "PADV2": {2},
                   "TRANSPOSE_CONV": {3}}
WEIGHT_RANK = {"CONV_2D": 4, "DEPTHWISE_CONV_2D": 4, "FULLY_CONNECTED": 2}
TYPE_NAMES = {9: "int8", 3: "uint8", 7: "int16", 2: "int32", 17: "int8"}  # 17: INT4 (zero point 0)
INT4_WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def check_tensor(t: fb.TensorInfo, i: int, where: str):
    what = f"{where}: tensor {i} ({t.name!r})"
    if any(d <= 0 for d in t.shape):
        raise McuforgeError(f"{what} has shape {t.shape}: every dimension must be positive")
    if t.scale is None:
        if t.type == 9 and t.data is None:
            raise McuforgeError(f"{what} is int8 but has no quantization parameters")
        return
    if len(t.scale) > 1 and t.data is None:
        raise McuforgeError(f"{what}: {len(t.scale)} scales on an activation (per-channel quantization is for "
                            f"constant weights)")
    from ..ir.tensor import QuantParams
    from ..ir.validate import check_quant
    zp = np.asarray(t.zero_point, np.int64)
    if zp.size not in (1, len(t.scale)):
        raise McuforgeError(f"{what}: {zp.size} zero points for {len(t.scale)} scales")
    q = QuantParams(t.scale, zp, t.quantized_dimension if len(t.scale) > 1 else None)
    check_quant(q, what, TYPE_NAMES.get(t.type, "int32"), t.shape)


def check_options(name: str, op, where: str):
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        from tflite.Conv2DOptions import Conv2DOptions
        from tflite.DepthwiseConv2DOptions import DepthwiseConv2DOptions
        from tflite.BuiltinOptions import BuiltinOptions
        cls = DepthwiseConv2DOptions if op.BuiltinOptionsType() == BuiltinOptions.DepthwiseConv2DOptions else Conv2DOptions
        o = fb._options(op, cls)
        if o is not None:
            vals = {"stride_h": o.StrideH(), "stride_w": o.StrideW(),
                    "dilation_h": o.DilationHFactor(), "dilation_w": o.DilationWFactor()}
            for k, v in vals.items():
                if v < 1:
                    raise McuforgeError(f"{where}: {k} {v} must be positive")
            if o.Padding() not in (0, 1):
                raise McuforgeError(f"{where}: padding {o.Padding()} is neither SAME nor VALID")
    elif name == "SOFTMAX":
        beta = fb.softmax_beta(op)
        if not (np.isfinite(beta) and beta > 0):
            raise McuforgeError(f"{where}: beta {beta} must be finite and positive")
    elif name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        try:
            o = fb.pool_options(op)
        except ValueError as e:
            raise McuforgeError(f"{where}: {e}") from None
        for k in ("stride_h", "stride_w", "filter_h", "filter_w"):
            if getattr(o, k) < 1:
                raise McuforgeError(f"{where}: {k} {getattr(o, k)} must be positive")
        if o.padding not in (0, 1):
            raise McuforgeError(f"{where}: padding {o.padding} is neither SAME nor VALID")


def validate(pm, where: str):
    tensors = pm.tensors
    for i, t in enumerate(tensors):
        check_tensor(t, i, where)
    written: dict[int, int] = {}
    graph_inputs = set(fb.subgraph_inputs(pm.sg))
    if not pm.ops:
        raise McuforgeError(f"{where}: the model has no operators; nothing to compile")
    outs = fb.subgraph_outputs(pm.sg)
    if not outs:
        raise McuforgeError(f"{where}: the model has no outputs; nothing to compile")
    for i in list(graph_inputs) + outs:
        if i < 0:
            raise McuforgeError(f"{where}: graph input/output index {i}")
    for idx, (code, op) in enumerate(pm.ops):
        name = fb.op_name(code)
        loc = f"{where}: operator {idx} ({name})"
        ins, o = fb.op_inputs(op), fb.op_outputs(op)
        if not ins:
            raise McuforgeError(f"{loc} has no inputs")
        for k, i in enumerate(ins):
            if i == -1 and k in OPTIONAL_INPUTS.get(name, ()):
                continue
            if not 0 <= i < len(tensors):
                raise McuforgeError(f"{loc}: input {k} refers to tensor {i} (the model has {len(tensors)})")
        if not o:
            raise McuforgeError(f"{loc} has no outputs")
        for i in o:
            if not 0 <= i < len(tensors):
                raise McuforgeError(f"{loc}: output refers to tensor {i} (the model has {len(tensors)})")
            if tensors[i].data is not None:
                raise McuforgeError(f"{loc} writes tensor {i} ({tensors[i].name!r}), which is a constant")
            if i in graph_inputs:
                raise McuforgeError(f"{loc} writes tensor {i} ({tensors[i].name!r}), which is a graph input")
            if i in written:
                raise McuforgeError(f"{loc} writes tensor {i} ({tensors[i].name!r}), already written by "
                                    f"operator {written[i]}")
            written[i] = idx
        if name not in ("QUANTIZE", "DEQUANTIZE", "CAST"):
            # int32 / int64 tensors are shapes and indices (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE
            # computes them at run time in the file; the importer folds them), not activations
            kinds = {tensors[i].type for i in list(ins) + list(o)
                     if i >= 0 and tensors[i].data is None and tensors[i].type not in (2, 4)}
            if len(kinds) > 1:
                raise McuforgeError(f"{loc} mixes tensor types {sorted(kinds)} among its activations")
        for k, i in enumerate(list(ins) + list(o)):
            if i >= 0 and tensors[i].type == 17 and not (name in INT4_WEIGHT_OPS and k == 1):
                raise McuforgeError(f"{loc}: INT4 tensor {tensors[i].name!r} (INT4 is read as the weights of "
                                    f"{', '.join(INT4_WEIGHT_OPS)} only)")
        rank = WEIGHT_RANK.get(name)
        if rank is not None:
            if len(ins) < 2:
                raise McuforgeError(f"{loc} needs an input and weights")
            w = tensors[ins[1]]
            if len(w.shape) != rank:
                raise McuforgeError(f"{loc}: weights {w.name!r} have shape {w.shape}, expected rank {rank}")
            if name != "FULLY_CONNECTED" and len(tensors[ins[0]].shape) != 4:
                raise McuforgeError(f"{loc}: input of shape {tensors[ins[0]].shape}, expected NHWC (rank 4)")
            x = tensors[ins[0]]
            if x.type == 9 and w.type not in (9, 17):
                raise McuforgeError(f"{loc}: int8 input with weights {w.name!r} of TFLite type {w.type}")
            if w.type == 17 and (x.type != 9 or w.data is None):
                raise McuforgeError(f"{loc}: INT4 weights {w.name!r} need int8 activations and constant weights")
            if len(ins) > 2 and ins[2] >= 0:
                b = tensors[ins[2]]
                if x.type == 9 and b.type != 2:
                    raise McuforgeError(f"{loc}: int8 input with bias {b.name!r} of TFLite type {b.type} (int32 expected)")
                if x.type == 0 and b.type != 0:
                    raise McuforgeError(f"{loc}: float input with bias {b.name!r} of TFLite type {b.type}")
                cout = w.shape[0] if name != "DEPTHWISE_CONV_2D" else w.shape[3]
                if b.shape != (cout,):
                    raise McuforgeError(f"{loc}: bias {b.name!r} has shape {b.shape}, expected ({cout},)")
        check_options(name, op, loc)
