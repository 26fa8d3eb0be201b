"""Mutators: byte-level (flips, special 32-bit values, truncation, chunk edits) for any file, and
structured ones that edit one field of an ONNX ModelProto or a TFLite ModelT the way a buggy
exporter, a bad conversion or a corrupted transfer would. Each returns (bytes, description)."""
from __future__ import annotations

import struct

import numpy as np

SPECIAL_F32 = [0.0, -1.0, float("nan"), float("inf"), -float("inf"), 1e30, 1e-45, 1e-30, 3.4e38, 65504.0]
SPECIAL_I32 = [0, -1, 1, 255, 256, -129, 2 ** 31 - 1, -2 ** 31, 0x7FFF, 1 << 20]


# -- bytes -------------------------------------------------------------------------------------
def byte_mutation(data: bytes, rng) -> tuple[bytes, str]:
    b = bytearray(data)
    kind = rng.integers(7)
    n = len(b)
    if kind == 0:
        i = int(rng.integers(n))
        b[i] ^= 1 << int(rng.integers(8))
        return bytes(b), f"bit flip at {i}"
    if kind == 1:
        k = int(rng.integers(1, 9))
        idx = rng.integers(0, n, k)
        for i in idx:
            b[int(i)] = int(rng.integers(256))
        return bytes(b), f"{k} random bytes"
    if kind == 2:
        i = int(rng.integers(0, max(n - 4, 1))) & ~3
        if rng.random() < 0.5:
            v = struct.pack("<f", SPECIAL_F32[int(rng.integers(len(SPECIAL_F32)))])
        else:
            v = struct.pack("<i", SPECIAL_I32[int(rng.integers(len(SPECIAL_I32)))])
        b[i:i + 4] = v
        return bytes(b), f"special word at {i}"
    if kind == 3:
        cut = int(rng.integers(0, n))
        return bytes(b[:cut]), f"truncated to {cut}"
    if kind == 4:
        i, k = int(rng.integers(n)), int(rng.integers(1, 64))
        del b[i:i + k]
        return bytes(b), f"deleted {k} at {i}"
    if kind == 5:
        i, j, k = int(rng.integers(n)), int(rng.integers(n)), int(rng.integers(1, 64))
        b[i:i] = data[j:j + k]
        return bytes(b), f"inserted {k} at {i}"
    # header region: the first 256 bytes hold most table offsets
    i = int(rng.integers(min(n, 256)))
    b[i] = int(rng.integers(256))
    return bytes(b), f"header byte at {i}"


# -- ONNX --------------------------------------------------------------------------------------
def onnx_mutation(data: bytes, rng) -> tuple[bytes, str, dict]:
    """One structural edit of the ModelProto. The dict may ask the harness for side files
    (external data) as {relative path: bytes}."""
    import onnx
    from onnx import helper, numpy_helper
    m = onnx.ModelProto()
    m.ParseFromString(data)
    g = m.graph
    side: dict = {}
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    kinds = ["dangling_input", "empty_input", "shuffle", "cycle", "drop_attr", "attr_type", "attr_len",
             "attr_zero", "init_dims", "init_special", "scale_special", "zp_edit", "no_outputs",
             "unused_input", "input_dims", "external", "drop_node", "dup_output", "opset", "softmax_axis",
             "init_dtype", "rename_output"]
    kind = pick(kinds)
    desc = kind
    nodes = list(g.node)
    if kind == "dangling_input" and nodes:
        n = pick(nodes)
        if n.input:
            n.input[int(rng.integers(len(n.input)))] = "nowhere"
    elif kind == "empty_input" and nodes:
        n = pick(nodes)
        if n.input:
            n.input[0] = ""
    elif kind == "shuffle" and len(nodes) > 1:
        perm = rng.permutation(len(nodes))
        del g.node[:]
        g.node.extend([nodes[i] for i in perm])
    elif kind == "cycle" and len(nodes) > 1:
        i = int(rng.integers(len(nodes) - 1))
        j = int(rng.integers(i + 1, len(nodes)))
        if nodes[i].input and nodes[j].output:
            nodes[i].input[0] = nodes[j].output[0]
    elif kind in ("drop_attr", "attr_type", "attr_len", "attr_zero"):
        with_attrs = [n for n in nodes if n.attribute]
        if with_attrs:
            n = pick(with_attrs)
            a = pick(list(n.attribute))
            desc += f" {n.op_type}.{a.name}"
            if kind == "drop_attr":
                n.attribute.remove(a)
            elif kind == "attr_type":
                new = pick([helper.make_attribute(a.name, 1.5), helper.make_attribute(a.name, "x"),
                            helper.make_attribute(a.name, [1.0, 2.0]), helper.make_attribute(a.name, 7)])
                n.attribute.remove(a)
                n.attribute.append(new)
            elif kind == "attr_len":
                if a.ints:
                    vals = list(a.ints)
                    vals = vals[:-1] if rng.random() < 0.5 and len(vals) > 1 else vals + [1]
                    del a.ints[:]
                    a.ints.extend(vals)
            else:
                if a.ints:
                    a.ints[int(rng.integers(len(a.ints)))] = pick([0, -1, -5, 100, 2 ** 40])
                elif a.type == onnx.AttributeProto.INT:
                    a.i = pick([0, -1, -7, 9, 2 ** 40])
                elif a.type == onnx.AttributeProto.FLOAT:
                    a.f = pick(SPECIAL_F32)
    elif kind in ("init_dims", "init_special", "init_dtype", "scale_special", "zp_edit", "external") and g.initializer:
        inits = list(g.initializer)
        if kind == "scale_special":
            cands = [t for t in inits if t.name.startswith("s_")] or inits
        elif kind == "zp_edit":
            cands = [t for t in inits if t.name.startswith("z_")] or inits
        else:
            cands = inits
        t = pick(cands)
        desc += f" {t.name}"
        arr = numpy_helper.to_array(t).copy()
        if kind == "init_dims":
            if t.dims:
                t.dims[int(rng.integers(len(t.dims)))] += int(pick([-1, 1, 2]))
            else:
                t.dims.append(2)
        elif kind in ("init_special", "scale_special"):
            if arr.dtype.kind == "f" and arr.size:
                flat = arr.reshape(-1)
                flat[int(rng.integers(flat.size))] = pick(SPECIAL_F32)
                t.CopyFrom(numpy_helper.from_array(flat.reshape(arr.shape), t.name))
            elif arr.size:
                flat = arr.reshape(-1).astype(np.int64)
                info = np.iinfo(arr.dtype)
                flat[int(rng.integers(flat.size))] = pick([info.min, info.max, 0])
                t.CopyFrom(numpy_helper.from_array(flat.astype(arr.dtype).reshape(arr.shape), t.name))
        elif kind == "zp_edit":
            choice = int(rng.integers(4))
            if choice == 0:   # wrong shape
                t.CopyFrom(numpy_helper.from_array(np.zeros((3,), arr.dtype), t.name))
            elif choice == 1:  # int32 zero point out of the int8 range
                t.CopyFrom(numpy_helper.from_array(np.full(arr.shape, 300, np.int32), t.name))
            elif choice == 2:
                t.CopyFrom(numpy_helper.from_array(np.full(arr.shape, 255, np.uint8), t.name))
            else:
                t.CopyFrom(numpy_helper.from_array(np.full(arr.shape, 1.5, np.float32), t.name))
        elif kind == "init_dtype":
            t.CopyFrom(numpy_helper.from_array(arr.astype(pick([np.float64, np.int64, np.float16, np.int16])), t.name))
        else:  # external data: inside, absolute, outside the folder, or missing
            raw = arr.tobytes()
            where = pick(["inside", "absolute", "outside", "missing", "short"])
            loc = {"inside": "w.bin", "absolute": "/etc/hostname", "outside": "../outside.bin",
                   "missing": "nothere.bin", "short": "short.bin"}[where]
            if where == "inside":
                side["w.bin"] = raw
            if where == "short":
                side["short.bin"] = raw[: len(raw) // 2]
            t.ClearField("raw_data")
            t.ClearField("float_data")
            t.ClearField("int32_data")
            t.ClearField("int64_data")
            t.raw_data = b""
            t.data_location = onnx.TensorProto.EXTERNAL
            del t.external_data[:]
            e = t.external_data.add()
            e.key, e.value = "location", loc
            desc += f" {where}"
    elif kind == "no_outputs":
        del g.output[:]
    elif kind == "unused_input":
        g.input.append(helper.make_tensor_value_info("extra", onnx.TensorProto.FLOAT, [1, 4]))
    elif kind == "input_dims" and g.input:
        d = g.input[0].type.tensor_type.shape.dim
        if d:
            d[int(rng.integers(len(d)))].dim_value = int(pick([0, 1, 3, 1000, 2 ** 31]))
    elif kind == "drop_node" and nodes:
        g.node.remove(pick(nodes))
    elif kind == "dup_output" and len(nodes) > 1:
        nodes[0].output[0] = nodes[-1].output[0]
    elif kind == "opset":
        m.opset_import[0].version = int(pick([1, 6, 7, 11, 99]))
    elif kind == "softmax_axis":
        for n in nodes:
            if n.op_type == "Softmax":
                del n.attribute[:]
                n.attribute.append(helper.make_attribute("axis", int(pick([0, -1, 1, 2, -3]))))
    elif kind == "rename_output" and g.output:
        g.output[0].name = pick(["nothing", g.input[0].name if g.input else "x", ""])
    return m.SerializeToString(), desc, side


# -- TFLite ------------------------------------------------------------------------------------
def tflite_mutation(data: bytes, rng) -> tuple[bytes, str]:
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb
    m = fb.ModelT.InitFromPackedBuf(data, 0)
    sg = m.subgraphs[0]
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    kinds = ["scale", "zp", "drop_quant", "op_input", "op_output", "shape", "buffer_index", "buffer_trunc",
             "opcode", "options", "sg_outputs", "sg_inputs", "tensor_type", "quant_dim", "scale_len"]
    kind = pick(kinds)
    desc = kind
    tensors = sg.tensors
    quantized = [t for t in tensors if t.quantization is not None and t.quantization.scale is not None
                 and len(t.quantization.scale)]
    if kind in ("scale", "zp", "drop_quant", "quant_dim", "scale_len") and quantized:
        t = pick(quantized)
        q = t.quantization
        desc += f" {t.name.decode(errors='replace') if isinstance(t.name, bytes) else t.name}"
        if kind == "scale":
            s = list(np.asarray(q.scale, np.float32))
            s[int(rng.integers(len(s)))] = pick(SPECIAL_F32)
            q.scale = s
        elif kind == "zp":
            z = list(np.asarray(q.zeroPoint if q.zeroPoint is not None else [0] * len(q.scale), np.int64))
            if not z:
                z = [0] * len(q.scale)
            z[int(rng.integers(len(z)))] = int(pick([255, -129, 128, 1000, -2 ** 31, 127, -128]))
            q.zeroPoint = z
        elif kind == "drop_quant":
            t.quantization = None
        elif kind == "quant_dim":
            q.quantizedDimension = int(pick([1, 2, 3, 7, -1]))
        else:
            q.scale = list(q.scale) + [0.5]
    elif kind in ("op_input", "op_output") and sg.operators:
        op = pick(sg.operators)
        lst = op.inputs if kind == "op_input" else op.outputs
        if lst is not None and len(lst):
            lst = list(lst)
            lst[int(rng.integers(len(lst)))] = int(pick([-1, 0, len(tensors) - 1, int(rng.integers(len(tensors))),
                                                        len(tensors) + 3]))
            if kind == "op_input":
                op.inputs = lst
            else:
                op.outputs = lst
    elif kind == "shape":
        t = pick(tensors)
        if t.shape is not None and len(t.shape):
            s = list(t.shape)
            s[int(rng.integers(len(s)))] = int(pick([0, -1, 1, 3, 1 << 20]))
            t.shape = s
    elif kind == "buffer_index":
        t = pick(tensors)
        t.buffer = int(pick([0, len(m.buffers) - 1, int(rng.integers(len(m.buffers))), len(m.buffers) + 2]))
    elif kind == "buffer_trunc":
        with_data = [b for b in m.buffers if b.data is not None and len(b.data)]
        if with_data:
            b = pick(with_data)
            b.data = np.asarray(b.data)[: int(rng.integers(len(b.data)))]
    elif kind == "opcode" and m.operatorCodes:
        oc = pick(m.operatorCodes)
        code = int(pick([0, 1, 3, 4, 9, 14, 22, 25, 40, 49, 83, 200]))
        oc.builtinCode = code
        oc.deprecatedBuiltinCode = min(code, 127)
    elif kind == "options" and sg.operators:
        op = pick(sg.operators)
        o = op.builtinOptions
        if o is not None:
            fields = [k for k, v in vars(o).items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if fields:
                f = pick(fields)
                setattr(o, f, type(getattr(o, f))(pick([0, -1, 7, 100, 2 ** 20])))
                desc += f" {type(o).__name__}.{f}"
    elif kind == "sg_outputs":
        sg.outputs = pick([[], [int(rng.integers(len(tensors)))], list(sg.outputs or []) * 2])
    elif kind == "sg_inputs":
        sg.inputs = pick([[], [int(rng.integers(len(tensors)))], list(sg.inputs or []) + [len(tensors) - 1]])
    elif kind == "tensor_type":
        t = pick(tensors)
        t.type = int(pick([0, 1, 2, 3, 7, 9, 10, 16]))
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output()), desc


def mutate(seed, rng) -> tuple[bytes, str, dict]:
    """One mutant of `seed`: half byte-level, half structured."""
    if rng.random() < 0.5:
        data, desc = byte_mutation(seed.data, rng)
        return data, "bytes: " + desc, {}
    if seed.suffix == ".onnx":
        data, desc, side = onnx_mutation(seed.data, rng)
        return data, "onnx: " + desc, side
    data, desc = tflite_mutation(seed.data, rng)
    return data, "tflite: " + desc, {}
