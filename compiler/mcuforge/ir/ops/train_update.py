"""The optimizer step as a graph node: SGD with momentum on the trained rows of one parameter,
applied in place (docs/training.md)."""
import numpy as np

from .base import REQUIRED, register
from .train_base import F32, TrainOp


def round_away_f32(v: np.ndarray) -> np.ndarray:
    """(int32_t)(v + (v >= 0 ? 0.5f : -0.5f)), the sum rounded to float32 first."""
    v = np.asarray(v, F32)
    return np.trunc(v + np.where(v >= 0, F32(0.5), F32(-0.5)).astype(F32)).astype(np.int64)


@register
class SgdUpdate(TrainOp):
    """(grad [rows,...], master [rows,...] or "", momentum or "", grad_scale [rows], param) ->
    ([master'], [momentum'], param'). Without a master the update starts from (float)param. Per element: g = grad * grad_scale[row];
    m = mu * m + g; g = m (with momentum); master = master - lr * g; then the first `rows` rows
    of param are master (float32 param) or clamp(round_away(master)) (int8 / int32 param)."""
    name = "sgd_update"
    attrs = {"lr": REQUIRED, "momentum": 0.0, "rows": REQUIRED, "inplace_of": REQUIRED, "after": (),
             "clamp": None}

    def infer(self, node, ins):
        outs = [(ins[1].shape, "float32")] if node.inputs[1] else []
        if node.inputs[2]:
            outs.append((ins[2].shape, "float32"))
        outs.append((ins[4].shape, ins[4].dtype))
        return outs

    def int8_params(self, node, g):
        return {"deq": [None] * len(node.inputs)}   # every input is used raw

    def run_train(self, node, xs, p):
        grad, master, mom, scale, param = xs
        rows = node.attrs["rows"]
        shape = (rows,) + (1,) * (np.ndim(grad) - 1)
        gsc = np.asarray(grad, F32) * np.asarray(scale, F32).reshape(shape)
        outs = []
        if node.inputs[2]:
            m = F32(node.attrs["momentum"]) * np.asarray(mom, F32)
            m = (m + gsc).astype(F32)
            gsc = m
        if node.inputs[1]:
            master = np.asarray(master, F32)
        else:               # no master copy: start from the parameter's own rows (int8-only state)
            master = np.asarray(param[:rows]).astype(F32)
        new_master = (master - F32(node.attrs["lr"]) * gsc).astype(F32)
        if node.inputs[1]:
            outs.append(new_master)
        if node.inputs[2]:
            outs.append(m)
        new_param = np.array(param, copy=True)
        if new_param.dtype == np.float32:
            new_param[:rows] = new_master
        else:
            lo, hi = node.attrs["clamp"]
            new_param[:rows] = np.clip(round_away_f32(new_master), lo, hi).astype(new_param.dtype)
        outs.append(new_param)
        return outs
