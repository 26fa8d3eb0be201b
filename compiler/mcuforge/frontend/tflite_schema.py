"""Reading the TFLite flatbuffer with the PyPI `tflite` package: a checked open, tensor records
with their constant data, and operator options as plain values (defaults where a field is absent).

Everything is read eagerly once in open_model, so a truncated or corrupt file fails there with
one clear message instead of somewhere deep inside the importer."""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from ..errors import McuforgeError

NP_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 6: np.bool_,
             7: np.int16, 9: np.int8, 10: np.float64}


@dataclass
class TensorInfo:
    name: str
    shape: tuple
    type: int
    data: np.ndarray | None
    scale: np.ndarray | None
    zero_point: np.ndarray | None
    quantized_dimension: int


def _builtin_names() -> dict[int, str]:
    from tflite.BuiltinOperator import BuiltinOperator
    return {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}


_NAMES: dict[int, str] | None = None


def op_name(code: int) -> str:
    global _NAMES
    if _NAMES is None:
        _NAMES = _builtin_names()
    return _NAMES.get(code, f"BUILTIN_{code}")


def open_model(buf: bytes, where: str):
    try:
        import tflite
    except ImportError:
        raise McuforgeError("reading .tflite files needs the `tflite` package (pip install tflite)") from None
    if len(buf) < 16 or buf[4:8] != b"TFL3":
        raise McuforgeError(f"{where}: not a TFLite flatbuffer (no 'TFL3' identifier)")
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        if model.SubgraphsLength() < 1:
            raise ValueError("no subgraph")
        sg = model.Subgraphs(0)
        cache = [_read_tensor(model, sg, i, buf) for i in range(sg.TensorsLength())]
        ops = [(_opcode(model, sg.Operators(k)), sg.Operators(k)) for k in range(sg.OperatorsLength())]
        for _, op in ops:
            for i in list(op_inputs(op)) + list(op_outputs(op)):
                if i >= len(cache):
                    raise ValueError(f"operator refers to tensor {i} of {len(cache)}")
        for i in list(subgraph_inputs(sg)) + list(subgraph_outputs(sg)):
            if not 0 <= i < len(cache):
                raise ValueError(f"graph input/output refers to tensor {i} of {len(cache)}")
    except McuforgeError:
        raise
    except Exception as e:  # the flatbuffer library raises whatever a bad offset produces
        raise McuforgeError(f"{where}: corrupt TFLite flatbuffer ({type(e).__name__}: {e})") from None
    return ParsedModel(model, sg, cache, ops)


@dataclass
class ParsedModel:
    model: object
    sg: object
    tensors: list
    ops: list


def _opcode(model, op) -> int:
    """Codes below 127 may sit in the deprecated int8 field (older writers), in the int32 field
    (newer writers), or both. The `tflite` package's BuiltinCode() returns the deprecated field
    for any code below 127, so read the int32 field (vtable slot 10) raw and take the larger."""
    import flatbuffers
    oc = model.OperatorCodes(op.OpcodeIndex())
    off = oc._tab.Offset(10)
    raw = oc._tab.Get(flatbuffers.number_types.Int32Flags, off + oc._tab.Pos) if off else 0
    return max(raw, oc.DeprecatedBuiltinCode())


INT4 = 17  # TensorType.INT4: constants packed two a byte, element 2k in the low nibble of byte k


def _int4_values(raw: bytes, shape: tuple, i: int) -> np.ndarray:
    """A packed INT4 constant as int8 values in [-8, 7] (TFLite's UnpackDenseInt4IntoInt8 layout;
    the buffer holds ceil(n / 2) bytes, the last high nibble unused when n is odd)."""
    from ..quant.subbyte import unpack_weights
    n = int(np.prod(shape, dtype=np.int64))
    if len(raw) != -(-n // 2):
        raise ValueError(f"tensor {i}: INT4 buffer of {len(raw)} bytes for {n} values (expected {-(-n // 2)})")
    return unpack_weights(np.frombuffer(raw, np.uint8), 4, n).reshape(shape)


def _read_tensor(model, sg, i: int, buf: bytes) -> TensorInfo:
    t = sg.Tensors(i)
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    ttype = t.Type()
    data = None
    b = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
    raw = None
    if b is not None:
        if b.DataLength() > 0:
            raw = b.DataAsNumpy().tobytes()
        elif b.Offset() > 1:  # large models keep buffers after the flatbuffer
            raw = buf[b.Offset(): b.Offset() + b.Size()]
    if raw is not None and ttype == INT4:
        data = _int4_values(raw, shape, i)
    elif raw is not None:
        dt = NP_DTYPES.get(ttype)
        if dt is None:
            raise ValueError(f"constant tensor {i} has unsupported type {ttype}")
        arr = np.frombuffer(raw, dtype=np.dtype(dt).newbyteorder("<"))
        if arr.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"tensor {i}: {arr.size} values for shape {shape}")
        data = arr.astype(dt).reshape(shape)
    q = t.Quantization()
    scale = zp = None
    qdim = 0
    if q is not None and q.ScaleLength() > 0:
        scale = q.ScaleAsNumpy().astype(np.float32)
        zp = q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength() else np.zeros(len(scale), np.int64)
        qdim = q.QuantizedDimension()
    name = t.Name().decode("utf-8", "replace") if t.Name() else f"t{i}"
    return TensorInfo(name, shape, ttype, data, scale, zp, qdim)




def op_inputs(op) -> list[int]:
    return [int(i) for i in op.InputsAsNumpy()] if op.InputsLength() else []


def op_outputs(op) -> list[int]:
    return [int(i) for i in op.OutputsAsNumpy()] if op.OutputsLength() else []


def subgraph_inputs(sg) -> list[int]:
    return [int(i) for i in sg.InputsAsNumpy()] if sg.InputsLength() else []


def subgraph_outputs(sg) -> list[int]:
    return [int(i) for i in sg.OutputsAsNumpy()] if sg.OutputsLength() else []


# -- builtin options --------------------------------------------------------------------------
def _options(op, cls):
    table = op.BuiltinOptions()
    if table is None:
        return None
    o = cls()
    o.Init(table.Bytes, table.Pos)
    return o


def conv_options(op) -> SimpleNamespace:
    from tflite.Conv2DOptions import Conv2DOptions
    from tflite.DepthwiseConv2DOptions import DepthwiseConv2DOptions
    from tflite.BuiltinOptions import BuiltinOptions
    cls = DepthwiseConv2DOptions if op.BuiltinOptionsType() == BuiltinOptions.DepthwiseConv2DOptions else Conv2DOptions
    o = _options(op, cls)
    if o is None:
        return SimpleNamespace(padding=0, stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, activation=0)
    return SimpleNamespace(padding=o.Padding(), stride_h=o.StrideH(), stride_w=o.StrideW(),
                           dilation_h=o.DilationHFactor() or 1, dilation_w=o.DilationWFactor() or 1,
                           activation=o.FusedActivationFunction())


def fc_options(op) -> SimpleNamespace:
    from tflite.FullyConnectedOptions import FullyConnectedOptions
    o = _options(op, FullyConnectedOptions)
    if o is None:
        return SimpleNamespace(activation=0, weights_format=0, keep_num_dims=False,
                               asymmetric_quantize_inputs=False)
    return SimpleNamespace(activation=o.FusedActivationFunction(), weights_format=o.WeightsFormat(),
                           keep_num_dims=bool(o.KeepNumDims()),
                           asymmetric_quantize_inputs=bool(o.AsymmetricQuantizeInputs()))


def pool_options(op) -> SimpleNamespace:
    from tflite.Pool2DOptions import Pool2DOptions
    o = _options(op, Pool2DOptions)
    if o is None:
        raise ValueError("pooling operator without options")
    return SimpleNamespace(padding=o.Padding(), stride_h=o.StrideH(), stride_w=o.StrideW(),
                           filter_h=o.FilterHeight(), filter_w=o.FilterWidth(),
                           activation=o.FusedActivationFunction())


def activation_option(op) -> int:
    """The fused activation of ADD / SUB / MUL (all three tables start with it)."""
    from tflite.AddOptions import AddOptions
    o = _options(op, AddOptions)
    return 0 if o is None else o.FusedActivationFunction()


def softmax_beta(op) -> float:
    from tflite.SoftmaxOptions import SoftmaxOptions
    o = _options(op, SoftmaxOptions)
    return 1.0 if o is None else float(o.Beta())


def concat_options(op) -> tuple[int, int]:
    from tflite.ConcatenationOptions import ConcatenationOptions
    o = _options(op, ConcatenationOptions)
    return (0, 0) if o is None else (o.Axis(), o.FusedActivationFunction())


def reducer_keep_dims(op) -> bool:
    from tflite.ReducerOptions import ReducerOptions
    o = _options(op, ReducerOptions)
    return False if o is None else bool(o.KeepDims())
