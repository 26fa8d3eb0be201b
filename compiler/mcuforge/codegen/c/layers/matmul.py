"""Matrix products of two tensors (matmul, float32 and int8 BATCH_MATMUL) and layer normalization."""
import numpy as np

from ....errors import McuforgeError
from ....ir.ops import get_op
from ..kernel_select import prepare_arrays
from .base import Layer, builder


def _batch_offsets(a_shape, b_shape):
    """(m, k, n) and the element offset of each batch's A and B matrices, numpy's broadcasting
    of the batch dimensions resolved at compile time (1-D operands promoted as numpy does)."""
    a2 = (1,) + tuple(a_shape) if len(a_shape) == 1 else tuple(a_shape)
    b2 = tuple(b_shape) + (1,) if len(b_shape) == 1 else tuple(b_shape)
    m, k, n = a2[-2], a2[-1], b2[-1]
    batch_shape = np.broadcast_shapes(a2[:-2], b2[:-2])

    def offsets(lead, size):
        idx = np.arange(int(np.prod(lead)), dtype=np.int64).reshape(lead) if lead else np.zeros((), np.int64)
        return (np.broadcast_to(idx, batch_shape).reshape(-1) * size).astype(np.int32)
    return (m, k, n), offsets(a2[:-2], m * k), offsets(b2[:-2], k * n)


def _matmul(ctx, node, cid, int8: bool):
    g = ctx.g
    (m, k, n), a_off, b_off = _batch_offsets(g.tensors[node.inputs[0]].shape, g.tensors[node.inputs[1]].shape)
    assert g.tensors[node.outputs[0]].size == a_off.size * m * n
    params = {"batches": int(a_off.size), "m": m, "k": k, "n": n}
    if int8:
        try:
            p = get_op("matmul").int8_params(node, g)
        except ValueError as e:
            raise McuforgeError(str(e)) from None
        params.update({key: p[key] for key in ("a_zp", "b_zp", "out_zp", "mult", "shift", "act_min", "act_max")})
    variant = ctx.select.choose("mcf_matmul_s8" if int8 else "mcf_matmul_f32", params)
    arrays = [ctx.array(cid, "a_offsets", "int32_t", a_off), ctx.array(cid, "b_offsets", "int32_t", b_off)]
    arrays = prepare_arrays(ctx, cid, variant, params, {}, arrays)
    return Layer(node, "matmul_s8" if int8 else "matmul_f32", variant.function, list(variant.sources),
                 [ctx.refs[t] for t in node.inputs],
                 [ctx.refs[node.outputs[0]]], params, arrays, macs=get_op("matmul").macs(node, g))


@builder("matmul", "float32")
def matmul_f32(ctx, node, cid):
    return _matmul(ctx, node, cid, int8=False)


@builder("matmul", "int8")
def matmul_s8(ctx, node, cid):
    return _matmul(ctx, node, cid, int8=True)


@builder("layernorm", "float32")
def layernorm_f32(ctx, node, cid):
    op = get_op("layernorm")
    x = ctx.g.tensors[node.inputs[0]]
    rows, n = op._split(node, x.shape)
    gamma, beta = op._affine(node, n)
    params = {"rows": rows, "n": n, "epsilon": float(node.attrs["epsilon"]), "has_beta": node.attrs["beta"] is not None}
    arrays = [ctx.array(cid, "gamma", "float", gamma.astype(np.float32))]
    if params["has_beta"]:
        arrays.append(ctx.array(cid, "beta", "float", beta.astype(np.float32)))
    kernel, sources = ctx.select.pick("mcf_layernorm_f32", params)
    return Layer(node, "layernorm_f32", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]],
                 params, arrays, macs=op.macs(node, ctx.g))


@builder("layernorm", "int8")
def layernorm_s8(ctx, node, cid):
    op = get_op("layernorm")
    try:
        p = op.int8_params(node, ctx.g)
    except ValueError as e:
        raise McuforgeError(str(e)) from None
    params = {"rows": p["rows"], "n": p["n"], "eps_q": p["eps_q"], "out_zp": p["out_zp"]}
    arrays = [ctx.array(cid, "mult", "int32_t", p["mult"].astype(np.int32)),
              ctx.array(cid, "shift", "int32_t", p["shift"].astype(np.int32)),
              ctx.array(cid, "bias", "int32_t", p["bias"].astype(np.int32))]
    kernel, sources = ctx.select.pick("mcf_layernorm_s8", params)
    return Layer(node, "layernorm_s8", kernel, sources, [ctx.refs[node.inputs[0]]], [ctx.refs[node.outputs[0]]],
                 params, arrays, macs=op.macs(node, ctx.g))
