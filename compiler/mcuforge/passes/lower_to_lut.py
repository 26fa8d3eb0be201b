"""Every int8 -> int8 function of one value (relu, clip, sigmoid, hardswish, requantize, ...) becomes
a 256-entry table lookup, filled from the op's own integer semantics.

Requires: an int8 graph. Guarantees: no elementwise-unary op remains; each is a `lut` node."""
from ..ir.graph import Graph, Node
from ..ir.ops import get_op
from ..ir.ops.unary import lut_table


def lower_to_lut(g: Graph) -> Graph:
    for n in g.topo_order():
        if not get_op(n.op).elementwise_unary or g.tensors[n.inputs[0]].dtype != "int8" \
                or g.tensors[n.outputs[0]].dtype != "int8":  # int8 -> int16 requantize stays
            continue
        table = g.const(n.name + "_table", lut_table(g, n), "int8")
        g.remove_node(n.name)
        g.add_node(Node(n.name, "lut", [n.inputs[0], table.name], n.outputs, {"from_op": n.op}))
    return g
