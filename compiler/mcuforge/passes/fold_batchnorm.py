"""BatchNorm disappears: folded into the conv/dense that feeds it (scaling that layer's weights
and bias per output channel), or, with no such producer, turned into a 1x1 depthwise convolution.

Requires: batchnorm statistics constant, channels last. Guarantees: no batchnorm nodes."""
import numpy as np

from ..ir.graph import Graph, Node
from ..ir.ops import infer_node
from ..ir.ops.batchnorm import bn_scale_shift


def fold_batchnorm(g: Graph) -> Graph:
    for bn in [n for n in g.topo_order() if n.op == "batchnorm"]:
        x = bn.inputs[0]
        gamma, beta, mean, var = (g.tensors[t].data for t in bn.inputs[1:5])
        scale, shift = bn_scale_shift(gamma, beta, mean, var, bn.attrs["epsilon"])
        prod = g.producer(x)
        # a QDQ model that quantizes the layer's output before the BN (onnxruntime's quantize_static
        # after a Gemm: Gemm -> Q -> DQ -> BatchNormalization) rounds there: the BN stays a layer
        # of its own so that int8 rounds at the same places (folded, one rounding less, the
        # autoencoder's outputs differed from onnxruntime's by up to several LSB)
        qdq_between = g.tensors[x].quant is not None and g.tensors[x].quant is not g.tensors[bn.outputs[0]].quant
        foldable = (prod is not None and prod.op in ("conv2d", "dense", "conv_transpose2d") and len(g.consumers(x)) == 1
                    and x not in g.outputs and prod.attrs.get("act_min") is None
                    and prod.attrs.get("act_max") is None and not qdq_between)
        if foldable:
            w = g.tensors[prod.inputs[1]]
            w_shape = (-1,) + (1,) * (w.data.ndim - 1)
            new_w = g.const(w.name + "_bn", (w.data * scale.reshape(w_shape)).astype(np.float32))
            old_b = g.tensors[prod.inputs[2]].data if len(prod.inputs) > 2 else 0.0
            new_b = g.const(prod.name + "_bias_bn", (old_b * scale + shift).astype(np.float32))
            g.set_inputs(prod, [prod.inputs[0], new_w.name, new_b.name])
            g.remove_node(bn.name)
            g.replace_uses(bn.outputs[0], x)
            # the folded tensor now holds the BN output's values: it takes that grid (a QDQ model's
            # grid between the layer and the BN, if any, describes values that no longer exist)
            g.tensors[x].quant = g.tensors[bn.outputs[0]].quant
        else:
            c = g.tensors[x].shape[-1]
            w = g.const(bn.name + "_dw", scale.reshape(c, 1, 1, 1).astype(np.float32))
            b = g.const(bn.name + "_bias", shift.astype(np.float32))
            if len(g.tensors[x].shape) == 4:
                node = Node(bn.name + "_dw", "conv2d", [x, w.name, b.name], list(bn.outputs), {"groups": c})
            elif qdq_between and len(g.tensors[x].shape) == 2:
                # rank 2 in a QDQ model: the same 1x1 depthwise convolution between reshapes to
                # [N, 1, 1, C] and back (the int8 per-channel weight is exact, +-127; one rounding,
                # as onnxruntime's float BatchNormalization then QuantizeLinear)
                n_, c_ = g.tensors[x].shape
                x4, y4 = g.unique(bn.name + "_nhwc"), g.unique(bn.name + "_dw_out")
                g.remove_node(bn.name)
                nodes = [Node(bn.name + "_to4", "reshape", [x], [x4], {"shape": (n_, 1, 1, c_)}),
                         Node(bn.name, "conv2d", [x4, w.name, b.name], [y4], {"groups": c}),
                         Node(bn.name + "_to2", "reshape", [y4], list(bn.outputs), {"shape": (n_, c_)})]
                for node in nodes:
                    g.add_node(node)
                    infer_node(g, node)
                g.tensors[y4].quant = g.tensors[bn.outputs[0]].quant
                continue
            else:  # rank 2: a per-feature scale and shift is a mul and an add
                mid = g.unique(bn.name + "_scaled")
                g.remove_node(bn.name)
                g.add_node(Node(bn.name + "_mul", "mul", [x, g.const(bn.name + "_s", scale.astype(np.float32)).name], [mid]))
                infer_node(g, g.node(bn.name + "_mul"))
                g.add_node(Node(bn.name + "_add", "add", [mid, b.name], list(bn.outputs)))
                infer_node(g, g.node(bn.name + "_add"))
                continue
            g.remove_node(bn.name)
            g.add_node(node)
            infer_node(g, node)
    g.prune_tensors()
    return g
