"""requant="ort": mark the int8 ops whose result follows onnxruntime's float32 QDQ arithmetic
instead of the exact integer rule (reference/ort_float.py says why and how).

Requires: a quantized int8 graph. Guarantees: every add / sub with int8 inputs and output, and every
int8 bilinear resize, carries attrs["float_rule"] = "ort"; their golden model and C kernels
(mcf_add_s8_ort, mcf_resize_bilinear_s8_ort) follow that rule, every other op keeps
requant="single"'s exact rounding.
"""
from ..ir.graph import Graph
from ..reference.ort_float import RULE

ORT_RULE_OPS = ("add", "sub")


def apply_ort_rules(g: Graph) -> Graph:
    for node in list(g.nodes.values()):
        if node.op in ORT_RULE_OPS and all(g.tensors[t].dtype == "int8" for t in node.inputs[:2] + node.outputs[:1]):
            node.attrs["float_rule"] = RULE
        elif (node.op == "resize" and node.attrs.get("mode") == "linear" and node.attrs.get("coord") != "tflite"
              and g.tensors[node.outputs[0]].dtype == "int8"):
            node.attrs["float_rule"] = RULE
            _absorb_requantize(g, node)
    g.prune_tensors()
    return g


def _absorb_requantize(g: Graph, resize):
    """onnxruntime quantizes the float resize straight to the output grid; an int8 resize keeps its
    input's grid and a requantize table follows when the grids differ. Under the ORT rule the resize
    rounds once, to the table's output grid, and the table goes."""
    readers = g.consumers(resize.outputs[0])
    # only the resize's own output requantization (quant/int8.py _requantize_output: "<node>_rq" reading
    # "<output>_pre"); a consumer's input requantization (a concat's "<concat>_<input>_rq") is a second
    # rounding in onnxruntime too (resize -> Q -> DQ -> concat -> Q) and stays
    if (len(readers) != 1 or readers[0].op != "lut" or readers[0].attrs.get("from_op") != "requantize"
            or not readers[0].name.startswith(resize.name + "_rq") or not resize.outputs[0].endswith("_pre")
            or resize.outputs[0] in g.outputs):
        return
    out = readers[0].outputs[0]
    g.remove_node(readers[0].name)
    g.remove_node(resize.name)
    resize.outputs = [out]
    g.add_node(resize)
