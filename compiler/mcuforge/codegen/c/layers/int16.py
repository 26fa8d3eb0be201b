"""C layers of TFLite's 16x8 scheme (int16 activations, int8 weights, int64 / int32 bias): one
builder per op, the parameters from the op's int16 semantics (ir/ops/int16.py), the kernels in
runtime_c/kernels/mcf_*_s16.c. Pooling, ADD / SUB / MUL and MEAN reuse the int8 templates
(their argument structs are the same); data movement reuses the width-generic builders."""
from ....errors import UnsupportedOpError
from ....ir.ops import get_op
from ....ir.ops.int16 import int16_semantics
from ....reference import int16_arith
from ..kernel_select import prepare_arrays
from . import mean as mean_layers
from . import movement, slicing, softmax as softmax_layers
from .base import Layer, builder, window
from .conv import _conv_geometry, _dense_geometry
from .elementwise import broadcast_layer
from .quantize_io import _affine


def _p(ctx, node):
    return int16_semantics(node).params(node, ctx.g)


def _io(ctx, node):
    return [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]]


def _weighted(ctx, node, cid, template, kernel, geometry) -> Layer:
    g = ctx.g
    w = g.tensors[node.inputs[1]]
    if w.dtype != "int8" or w.data is None:
        raise UnsupportedOpError(node.op, node.name, "16x8 layers need constant int8 weights")
    p = _p(ctx, node)
    bias = g.tensors[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
    params = dict(geometry, act_min=p["act_min"], act_max=p["act_max"],
                  bias=None if bias is None else ("int64" if p["acc64"] else "int32"))
    variant = ctx.select.choose(kernel, dict(params, consts={"weights": w.data}))
    arrays = [ctx.array(cid, "weights", "int8_t", w.data.reshape(-1)),
              ctx.array(cid, "mult", "int32_t", p["mult"]), ctx.array(cid, "shift", "int32_t", p["shift"])]
    if bias is not None:
        arrays.append(ctx.array(cid, "bias", params["bias"] + "_t", bias.data.astype(bias.np_dtype)))
    # a variant may replace the weights by a reordering of its own (codegen/c/variants/dsp_s16.py)
    arrays = prepare_arrays(ctx, cid, variant, params, {"weights": w.data}, arrays)
    ins, outs = _io(ctx, node)
    return Layer(node, template, variant.function, list(variant.sources), ins, outs, params, arrays,
                 macs=get_op(node.op).macs(node, g))


@builder("conv2d", "int16")
def conv2d_s16(ctx, node, cid):
    x, w = ctx.g.tensors[node.inputs[0]], ctx.g.tensors[node.inputs[1]]
    # one input channel: an ordinary convolution (groups 1), whatever the depth multiplier says
    depthwise = node.attrs["groups"] == x.shape[-1] > 1 and w.shape[3] == 1
    kernel = "mcf_depthwise_conv2d_s16" if depthwise else "mcf_conv2d_s16"
    return _weighted(ctx, node, cid, "conv2d_s16", kernel, _conv_geometry(ctx, node))


@builder("conv_transpose2d", "int16")
def conv_transpose2d_s16(ctx, node, cid):
    return _weighted(ctx, node, cid, "conv2d_s16", "mcf_conv_transpose2d_s16", _conv_geometry(ctx, node))


@builder("dense", "int16")
def dense_s16(ctx, node, cid):
    return _weighted(ctx, node, cid, "dense_s16", "mcf_fully_connected_s16", _dense_geometry(ctx, node))


def _add_s16(ctx, node, cid):
    return broadcast_layer(ctx, node, "mcf_add_s16", "add_s8", p=_p(ctx, node), subtract=int(node.op == "sub"))


builder("add", "int16")(_add_s16)
builder("sub", "int16")(_add_s16)


@builder("mul", "int16")
def mul_s16(ctx, node, cid):
    return broadcast_layer(ctx, node, "mcf_mul_s16", "mul_s8", p=_p(ctx, node))


def _pool_s16(ctx, node, cid):
    p = _p(ctx, node)
    a = node.attrs
    params = {"win": window(ctx.g, node, node.inputs[0], node.outputs[0], a["kernel"], a["strides"], a["dilations"],
                            a["pads"]),
              "act_min": p["act_min"], "act_max": p["act_max"],
              "count_include_pad": int(a.get("count_include_pad", 0)), "pad_value": 0}
    kernel, sources = ctx.select.pick(f"mcf_{node.op}_s16", params)
    ins, outs = _io(ctx, node)
    return Layer(node, "pool_s8", kernel, sources, ins, outs, params, macs=get_op(node.op).macs(node, ctx.g))


builder("maxpool", "int16")(_pool_s16)
builder("avgpool", "int16")(_pool_s16)


def _sigmoid_tanh_s16(ctx, node, cid):
    p = _p(ctx, node)
    params = {"size": ctx.g.tensors[node.inputs[0]].size, "mult": p["mult"], "left_shift": p["left_shift"]}
    kernel, sources = ctx.select.pick(f"mcf_{node.op}_s16", params)
    table = ctx.array(cid, "table", "uint16_t", int16_arith.sigmoid_table_uint16())
    ins, outs = _io(ctx, node)
    return Layer(node, "sigmoid_s16", kernel, sources, ins, outs, params, [table])


builder("sigmoid", "int16")(_sigmoid_tanh_s16)
builder("tanh", "int16")(_sigmoid_tanh_s16)


@builder("softmax", "int16")
def softmax_s16(ctx, node, cid):
    p = _p(ctx, node)
    params = dict(softmax_layers._split(ctx.g.tensors[node.inputs[0]].shape, node.attrs["axis"]),
                  mult=p["mult"], shift=p["shift"])
    kernel, sources = ctx.select.pick("mcf_softmax_s16", params)
    arrays = [ctx.array(cid, "exp_lut", "int16_t", p["exp_lut"]),
              ctx.array(cid, "recip_lut", "int16_t", p["recip_lut"])]
    ins, outs = _io(ctx, node)
    return Layer(node, "softmax_s16", kernel, sources, ins, outs, params, arrays)


WIDTH = {"int8": "s8", "int16": "s16"}


@builder("requantize", "int16")
def requantize_s16(ctx, node, cid):
    src, dst = (ctx.g.tensors[t].dtype for t in (node.inputs[0], node.outputs[0]))
    if src not in WIDTH or dst not in WIDTH:
        raise UnsupportedOpError(node.op, node.name, f"no C kernel requantizes {src} to {dst}")
    p = dict(_p(ctx, node), size=ctx.g.tensors[node.inputs[0]].size)
    kernel = f"mcf_requantize_{WIDTH[src]}_{WIDTH[dst]}"
    ins, outs = _io(ctx, node)
    return Layer(node, "requantize_s16", kernel, ["mcf_requantize_s16.c"], ins, outs, p)


builder("quantize", "int16")(_affine("mcf_quantize_f32_s16"))
builder("dequantize", "int16")(_affine("mcf_dequantize_s16_f32"))


@builder("mean", "int16")
def mean_s16(ctx, node, cid):
    t = ctx.g.tensors[node.inputs[0]]
    p = _p(ctx, node)
    params = mean_layers._geometry(t.shape, mean_layers.reduced_axes(node, len(t.shape)))
    params.update(in_zp=p["in_zp"], out_zp=p["out_zp"], mult=p["mult"], shift=p["shift"], op=0)
    kernel, sources = ctx.select.pick("mcf_mean_s16", params)
    ins, outs = _io(ctx, node)
    return Layer(node, "mean", kernel, sources, ins, outs, params, macs=t.size)


# data movement: the builders are width-generic (element size from the tensor's dtype)
for _op, _fn in (("reshape", movement.reshape), ("transpose", movement.transpose), ("concat", movement.concat),
                 ("pad", movement.pad)):
    builder(_op, "int16")(_fn)
for _op in ("slice", "gather", "broadcast_to", "tile"):
    builder(_op, "int16")(slicing._strided)
