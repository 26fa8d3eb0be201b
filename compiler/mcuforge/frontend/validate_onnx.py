"""Structural checks of an ONNX ModelProto before import (issue 15): external data stays inside
the model's folder, initializers' dims agree with their data, every name resolves, the nodes form
a DAG (they are put in topological order if the file lists them otherwise), the graph has outputs,
attributes have the schema's type, required ones are present, and spatial attributes (kernel,
strides, dilations, pads) have legal values and lengths. Each refusal names the node or tensor."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import McuforgeError

SPATIAL_OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool")


def load_external_data(model, base_dir: Path, where: str):
    """Resolve external tensors only from files inside base_dir (relative, no escape, present,
    long enough), then read them."""
    from onnx import TensorProto, external_data_helper
    base = Path(base_dir).resolve()
    external = [t for t in external_data_helper._get_all_tensors(model)
                if t.HasField("data_location") and t.data_location == TensorProto.EXTERNAL]
    for t in external:
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location", "")
        if not loc:
            raise McuforgeError(f"{where}: initializer {t.name!r} is external but names no file")
        if os.path.isabs(loc) or Path(loc).drive:
            raise McuforgeError(f"{where}: initializer {t.name!r} points at the absolute path {loc!r}; "
                                f"external data must be a file beside the model")
        target = (base / loc).resolve()
        if base != target and base not in target.parents:
            raise McuforgeError(f"{where}: initializer {t.name!r} points at {loc!r}, outside the "
                                f"model's folder {base}")
        if not target.is_file():
            raise McuforgeError(f"{where}: external data file {loc!r} of initializer {t.name!r} not found")
        try:
            offset = int(info.get("offset", 0))
            length = int(info["length"]) if "length" in info else None
        except ValueError:
            raise McuforgeError(f"{where}: initializer {t.name!r}: offset/length of its external data "
                                f"are not integers") from None
        size = target.stat().st_size
        if offset < 0 or offset > size or (length is not None and (length < 0 or offset + length > size)):
            raise McuforgeError(f"{where}: initializer {t.name!r} reads bytes {offset}..{offset + (length or 0)} "
                                f"of {loc!r}, which has {size}")
    if external:
        try:
            external_data_helper.load_external_data_for_model(model, str(base))
        except Exception as e:  # noqa: BLE001 - onnx raises several types here
            raise McuforgeError(f"{where}: cannot read external data: {str(e).splitlines()[0]}") from None


def check_initializers(model, where: str) -> list[str]:
    """Refuses initializers whose data disagree with their dims; returns the names of those holding
    NaN or inf (legal in a float32 compile, refused by ir/validate.py for int8)."""
    from onnx import numpy_helper
    nonfinite = []
    for t in model.graph.initializer:
        if any(d < 0 for d in t.dims):
            raise McuforgeError(f"{where}: initializer {t.name!r} has negative dims {list(t.dims)}")
        try:
            arr = numpy_helper.to_array(t)
        except Exception as e:  # noqa: BLE001 - dims vs data, unknown types, ...
            raise McuforgeError(f"{where}: initializer {t.name!r} (dims {list(t.dims)}): its data does not "
                                f"match ({str(e).splitlines()[0]})") from None
        if arr.shape != tuple(t.dims):
            raise McuforgeError(f"{where}: initializer {t.name!r}: data of shape {arr.shape} for dims {list(t.dims)}")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            nonfinite.append(t.name)
    return nonfinite


def _attr_ok(a, want) -> bool:
    from onnx import AttributeProto
    if a.type == want:
        return True
    # writers that leave `type` unset: accept when the matching field is filled
    if a.type == AttributeProto.UNDEFINED:
        field = {AttributeProto.INT: "i", AttributeProto.FLOAT: "f", AttributeProto.STRING: "s",
                 AttributeProto.TENSOR: "t", AttributeProto.GRAPH: "g"}.get(want)
        return field is not None and a.HasField(field)
    return False


def check_node_attributes(node, opset: int):
    """Schema types and required attributes, then the values of spatial attributes."""
    from onnx import AttributeProto, defs
    if node.domain not in ("", "ai.onnx"):
        return
    try:
        schema = defs.get_schema(node.op_type, opset, node.domain)
    except Exception:  # noqa: BLE001 - unknown op: the importer names it as unsupported
        return
    name = f"node {node.name!r} ({node.op_type})"
    present = {}
    for a in node.attribute:
        if a.name in present:
            raise McuforgeError(f"{name}: attribute {a.name!r} given twice")
        present[a.name] = a
        spec = schema.attributes.get(a.name)
        if spec is None:
            continue
        want = int(spec.type)
        if not _attr_ok(a, want):
            raise McuforgeError(f"{name}: attribute {a.name!r} must be "
                                f"{AttributeProto.AttributeType.Name(want)}, got "
                                f"{AttributeProto.AttributeType.Name(a.type)}")
    for k, spec in schema.attributes.items():
        if spec.required and k not in present:
            raise McuforgeError(f"{name}: required attribute {k!r} is missing")
    n_in = sum(1 for i in node.input)
    if n_in < schema.min_input or n_in > schema.max_input:
        raise McuforgeError(f"{name}: {n_in} inputs, the operator takes {schema.min_input} to {schema.max_input}")
    for k, formal in enumerate(schema.inputs):
        if k < len(node.input) and not node.input[k] and formal.option == formal.option.Single:
            raise McuforgeError(f"{name}: required input {k} ({formal.name}) is empty")
    if len(node.output) < schema.min_output or not node.output or not node.output[0]:
        raise McuforgeError(f"{name}: missing output")
    ints = {a.name: list(a.ints) for a in node.attribute if a.type == AttributeProto.INTS}
    one = {a.name: a.i for a in node.attribute if a.type == AttributeProto.INT}
    if node.op_type in SPATIAL_OPS:
        k = ints.get("kernel_shape")
        rank = len(k) if k is not None else len(ints.get("strides") or ints.get("dilations") or []) or None
        for key in ("kernel_shape", "strides", "dilations"):
            v = ints.get(key)
            if v is None:
                continue
            if any(x < 1 for x in v):
                raise McuforgeError(f"{name}: {key} {v} must be positive")
            if rank is not None and len(v) != rank:
                raise McuforgeError(f"{name}: {key} {v} has {len(v)} values, the kernel is {rank}-D")
        p = ints.get("pads")
        if p is not None:
            if any(x < 0 for x in p):
                raise McuforgeError(f"{name}: negative pads {p}")
            if rank is not None and len(p) != 2 * rank:
                raise McuforgeError(f"{name}: pads {p} has {len(p)} values, a {rank}-D kernel needs {2 * rank}")
        if one.get("group", 1) < 1:
            raise McuforgeError(f"{name}: group {one['group']} must be positive")
    for key in ("transA", "transB"):
        if key in one and one[key] not in (0, 1):
            raise McuforgeError(f"{name}: {key} must be 0 or 1, got {one[key]}")
    for a in node.attribute:
        if a.type == AttributeProto.FLOAT and not np.isfinite(a.f) and a.name not in ("min", "max"):
            raise McuforgeError(f"{name}: attribute {a.name!r} is {a.f}")
    if "perm" in ints and sorted(ints["perm"]) != list(range(len(ints["perm"]))):
        raise McuforgeError(f"{name}: perm {ints['perm']} is not a permutation")


def sort_and_check_names(model, where: str):
    """Every node input resolves to an initializer, a graph input or an earlier node's output;
    values are defined once; nodes are put in topological order (refusing cycles)."""
    g = model.graph
    defined: dict[str, str] = {}
    for t in g.initializer:
        defined.setdefault(t.name, "initializer")
    for vi in g.input:
        if not vi.name:
            raise McuforgeError(f"{where}: a graph input has an empty name")
        defined.setdefault(vi.name, "graph input")
    producer: dict[str, int] = {}
    for idx, node in enumerate(g.node):
        label = node.name or f"{node.op_type}_{idx}"
        for o in node.output:
            if not o:
                continue
            if o in defined or o in producer:
                other = defined.get(o) or f"node {g.node[producer[o]].name or producer[o]!r}"
                raise McuforgeError(f"{where}: value {o!r} is defined twice (by {other} and by node {label!r})")
            producer[o] = idx
    for idx, node in enumerate(g.node):
        label = node.name or f"{node.op_type}_{idx}"
        for i in node.input:
            if i and i not in defined and i not in producer:
                raise McuforgeError(f"{where}: node {label!r} ({node.op_type}) reads {i!r}, which no node, "
                                    f"initializer or graph input defines")
    if not g.output:
        raise McuforgeError(f"{where}: the graph has no outputs; nothing to compile")
    for vo in g.output:
        if vo.name not in defined and vo.name not in producer:
            raise McuforgeError(f"{where}: graph output {vo.name!r} is not computed by any node")
    # Kahn's algorithm, stable: ready nodes in file order
    deps = [{producer[i] for i in node.input if i in producer} for node in g.node]
    users: dict[int, list[int]] = {}
    for idx, d in enumerate(deps):
        for p in d:
            users.setdefault(p, []).append(idx)
    remaining = [len(d) for d in deps]
    import heapq
    ready = [i for i, r in enumerate(remaining) if r == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users.get(i, []):
            remaining[u] -= 1
            if remaining[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(g.node):
        stuck = next(i for i in range(len(g.node)) if i not in set(order))
        n = g.node[stuck]
        raise McuforgeError(f"{where}: the graph has a cycle through node {n.name or f'{n.op_type}_{stuck}'!r} ({n.op_type})")
    if order != list(range(len(g.node))):
        nodes = [g.node[i] for i in order]
        copies = [type(n)() for n in nodes]
        for c, n in zip(copies, nodes):
            c.CopyFrom(n)
        del g.node[:]
        g.node.extend(copies)


def validate_model(model, base_dir: Path, where: str) -> list[str]:
    """All structural checks, in the order their failures would otherwise cascade. Returns the
    initializers holding NaN / inf."""
    load_external_data(model, base_dir, where)
    nonfinite = check_initializers(model, where)
    sort_and_check_names(model, where)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    dims = {t.name: tuple(t.dims) for t in model.graph.initializer}
    for idx, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{idx}"
        check_node_attributes(node, opset)
        if node.op_type == "Conv" and len(node.input) > 1 and node.input[1] in dims:
            k = next((list(a.ints) for a in node.attribute if a.name == "kernel_shape"), None)
            wd = dims[node.input[1]]
            if k is not None and list(wd[2:]) != k:
                raise McuforgeError(f"node {node.name!r} (Conv): kernel_shape {k} but weights of shape {list(wd)}")
    return nonfinite


def check_qdq_params(node, scale: np.ndarray, zp: np.ndarray, axis, data_shape: tuple):
    """QuantizeLinear / DequantizeLinear: scale and zero point shapes agree, the axis exists and
    has as many channels as there are scales, scales finite and positive."""
    name = f"node {node.name!r} ({node.op_type})"
    if scale.ndim > 1:
        raise McuforgeError(f"{name}: scale must be a scalar or 1-D, got shape {scale.shape}")
    if zp.size != scale.size:
        raise McuforgeError(f"{name}: {zp.size} zero points for {scale.size} scales")
    s = scale.reshape(-1)
    if np.any(~np.isfinite(s) | (s <= 0)):
        raise McuforgeError(f"{name}: scale {s[~np.isfinite(s) | (s <= 0)][0]:g} (scales must be finite and positive)")
    if scale.size > 1:
        rank = len(data_shape)
        if not isinstance(axis, (int, np.integer)) or not -rank <= axis < rank:
            raise McuforgeError(f"{name}: axis {axis} for a tensor of rank {rank}")
        if data_shape[axis] != scale.size:
            raise McuforgeError(f"{name}: {scale.size} scales along axis {axis}, which has {data_shape[axis]} channels")


def check_axis(node, axis, rank: int, inclusive_end: bool = False) -> int:
    """An axis attribute within [-rank, rank) ([-rank, rank] for Flatten); returns it non-negative."""
    hi = rank + 1 if inclusive_end else rank
    if not isinstance(axis, (int, np.integer)) or not -rank <= axis < hi:
        raise McuforgeError(f"node {node.name!r} ({node.op_type}): axis {axis} for a tensor of rank {rank}")
    return int(axis) + rank if axis < 0 else int(axis)
