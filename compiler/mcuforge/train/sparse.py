"""Sparse-update schemes: which parameters train, parsed from a spec string (docs/training.md).

    all                       every weight and bias (full backpropagation)
    bias:lastK                biases of the last K layers that have parameters
    bias:<layer>              one layer's bias
    weight:<layer>[@r]        one layer's weights, first r of the output channels
    weight:lastK[@r]          weights of the last K layers
r is 1/8, 1/4, 1/2 or 1 (default 1). <layer> is a forward node name, convN / fcN (the N-th
conv2d / dense, 0-based, forward order) or layerN (the N-th of both)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from ..errors import McuforgeError
from ..ir.graph import Graph

RATIOS = {Fraction(1, 8), Fraction(1, 4), Fraction(1, 2), Fraction(1)}
LAYER_OPS = ("conv2d", "dense")


@dataclass(frozen=True)
class Trained:
    layer: str          # forward node name
    kind: str           # "weight" | "bias"
    rows: int           # first `rows` output channels
    channels: int       # output channels of the layer
    ratio: Fraction = Fraction(1)


def layers(g: Graph) -> list:
    return [n for n in g.topo_order() if n.op in LAYER_OPS]


def _resolve_layer(name: str, ls: list) -> list:
    by_name = {n.name: n for n in ls}
    if name in by_name:
        return [by_name[name]]
    m = re.fullmatch(r"(conv|fc|layer)(\d+)", name)
    if m:
        kind, i = m.group(1), int(m.group(2))
        pool = [n for n in ls if kind == "layer" or n.op == ("conv2d" if kind == "conv" else "dense")]
        if i < len(pool):
            return [pool[i]]
        raise McuforgeError(f"--update: {name} does not exist (the model has {len(pool)} "
                            f"{'layers' if kind == 'layer' else kind + ' layers'})")
    m = re.fullmatch(r"last(\d+)", name)
    if m:
        k = int(m.group(1))
        if not 0 < k <= len(ls):
            raise McuforgeError(f"--update: last{k} asks for {k} layers, the model has {len(ls)}")
        return ls[-k:]
    raise McuforgeError(f"--update: no layer {name!r} (use a node name, convN, fcN, layerN or lastK)")


def _ratio(text: str) -> Fraction:
    try:
        r = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise McuforgeError(f"--update: channel ratio {text!r} is not a number") from None
    if r not in RATIOS:
        raise McuforgeError(f"--update: channel ratio {text} must be one of 1/8, 1/4, 1/2, 1")
    return r


def parse_spec(spec: str, g: Graph) -> list[Trained]:
    """The trained tensors of `spec` on graph g, in forward order, each once (the widest rows win)."""
    ls = layers(g)
    if not ls:
        raise McuforgeError("the model has no conv2d or dense layer to train")
    chosen: dict[tuple[str, str], Trained] = {}

    def add(node, kind, ratio):
        if kind == "bias" and not (len(node.inputs) > 2 and node.inputs[2]):
            raise McuforgeError(f"--update: layer {node.name} has no bias")
        cout = g.tensors[node.inputs[1]].shape[0]
        rows = max(1, math.ceil(ratio * cout)) if kind == "weight" else cout
        old = chosen.get((node.name, kind))
        if old is None or old.rows < rows:
            chosen[(node.name, kind)] = Trained(node.name, kind, rows, cout, ratio if kind == "weight" else Fraction(1))

    items = [s.strip() for s in str(spec).split(",") if s.strip()]
    if not items:
        raise McuforgeError("--update: empty spec")
    for item in items:
        if item == "all":
            for n in ls:
                add(n, "weight", Fraction(1))
                if len(n.inputs) > 2 and n.inputs[2]:
                    add(n, "bias", Fraction(1))
            continue
        m = re.fullmatch(r"(bias|weight):([^@]+)(?:@(.+))?", item)
        if not m:
            raise McuforgeError(f"--update: cannot read {item!r} (expected bias:<layer>, weight:<layer>[@r], "
                                "bias:lastK, weight:lastK[@r] or all)")
        kind, target, r = m.group(1), m.group(2).strip(), m.group(3)
        if kind == "bias" and r is not None:
            raise McuforgeError(f"--update: {item!r}: a channel ratio applies to weights only")
        ratio = _ratio(r) if r is not None else Fraction(1)
        for n in _resolve_layer(target, ls):
            if kind == "bias" and target.startswith("last") and not (len(n.inputs) > 2 and n.inputs[2]):
                continue
            add(n, kind, ratio)
    pos = {n.name: i for i, n in enumerate(ls)}
    return sorted(chosen.values(), key=lambda t: (pos[t.layer], t.kind != "weight"))


def canonical_spec(trained: list[Trained], g: Graph) -> str:
    ls = layers(g)
    idx = {n.name: i for i, n in enumerate(ls)}
    parts = []
    for t in trained:
        s = f"{t.kind}:layer{idx[t.layer]}"
        if t.kind == "weight" and t.ratio != 1:
            s += f"@{t.ratio}"
        parts.append(s)
    return ",".join(parts)
