"""requant="ort": mark the int8 ops whose result follows onnxruntime's float32 QDQ arithmetic
instead of the exact integer rule (reference/ort_float.py says why and how).

Requires: a quantized int8 graph. Guarantees: every add / sub with int8 inputs and output carries
attrs["float_rule"] = "ort"; its golden model and C kernel (mcf_add_s8_ort) follow that rule, every
other op keeps requant="single"'s exact rounding.
"""
from ..ir.graph import Graph
from ..reference.ort_float import RULE

ORT_RULE_OPS = ("add", "sub")


def apply_ort_rules(g: Graph) -> Graph:
    for node in g.nodes.values():
        if node.op in ORT_RULE_OPS and all(g.tensors[t].dtype == "int8" for t in node.inputs[:2] + node.outputs[:1]):
            node.attrs["float_rule"] = RULE
    return g
