"""Fused backward of a network's head: global mean backward -> activation mask -> the bias,
weight and input gradients of the 1x1 convolution under it (docs/training.md, `mean_pw_grad`).

Unfused, the gradient at the convolution's output (N x H x W x C float32: 4x4x1280x4 = 80 KB in
MobileNetV2's head) is stored whole between four ops. Every element of it is
mask(y) * dmean[n, c] / (H*W), cheap to make again, so the fused op computes it one pixel at a
time and adds it straight into the gradients that read it. The sums run in the unfused ops'
orders (pixels ascending for the bias and weight gradients, channels ascending for the input
gradient), so the results are bit-identical to mean_grad -> act_grad -> grad_sum /
conv2d_grad_weight / conv2d_grad_input."""
import numpy as np

from .base import REQUIRED, register
from .train_base import F32, TrainOp, dequant, seq_sum
from .train_elem import act_mask, float_mask, mask_params


@register
class MeanPointwiseGrad(TrainOp):
    """(dmean [N*C elements], y [N,H,W,C] | "", w [C,1,1,Ci] | "", x [N,H,W,Ci] | "") ->
    db [bias_rows] (if bias_rows), dw [weight_rows,1,1,Ci] (if weight_rows), dx [N,H,W,Ci]
    (if input_grad), in that order. g[n,h,w,c] = dmean[n,c] / (float)(H*W) where
    act_min < y < act_max (bounds None: not checked; no y: everywhere), else 0;
    db[c] = sum over pixels (n, h, w ascending) of g; dw[c, ci] = same order, of g * x;
    dx[n,h,w,ci] = sum over c ascending of g * w[c, ci]; every sum from 0.0f."""
    name = "mean_pw_grad"
    attrs = {"in_shape": REQUIRED, "act_min": None, "act_max": None, "bias_rows": 0, "weight_rows": 0,
             "input_grad": 0, "in_c": REQUIRED}

    def infer(self, node, ins):
        n, h, w, c = node.attrs["in_shape"]
        ci = node.attrs["in_c"]
        outs = []
        if node.attrs["bias_rows"]:
            outs.append(((node.attrs["bias_rows"],), "float32"))
        if node.attrs["weight_rows"]:
            outs.append(((node.attrs["weight_rows"], 1, 1, ci), "float32"))
        if node.attrs["input_grad"]:
            outs.append(((n, h, w, ci), "float32"))
        if not outs:
            raise ValueError(f"mean_pw_grad {node.name}: computes nothing")
        return outs

    def int8_params(self, node, g):
        p = super().int8_params(node, g)
        p["deq"][1] = None                        # y: the mask reads it as it is
        y = node.inputs[1]
        if y and g.tensors[y].dtype == "int8":
            p.update(mask_params(node, g.tensors[y].quant))
        return p

    def run_int8(self, node, xs, p):
        xs = [x if d is None or x is None else dequant(x, d) for x, d in zip(xs, p["deq"])]
        keep = act_mask(np.asarray(xs[1]).astype(np.int64), p["q_lo"], p["q_hi"]) if "q_lo" in p else None
        return self.compute(node, xs, keep)

    def run_train(self, node, xs, p):
        return self.compute(node, xs, None)

    def compute(self, node, xs, keep):
        a = node.attrs
        dmean, y, w, x = (xs + [None] * 4)[:4]
        n, h, wd, c = a["in_shape"]
        ci = a["in_c"]
        q = np.asarray(dmean, F32).reshape(n, 1, 1, c) / F32(h * wd)
        if keep is None:
            keep = float_mask(node, y) if y is not None else np.ones((n, h, wd, c), bool)
        g = np.where(keep, np.broadcast_to(q, (n, h, wd, c)), F32(0.0)).astype(F32).reshape(-1, c)
        outs = []
        if a["bias_rows"]:
            outs.append(seq_sum(g[:, :a["bias_rows"]]))
        if a["weight_rows"]:
            x2 = np.asarray(x, F32).reshape(-1, ci)
            terms = g[:, :a["weight_rows"], None] * x2[:, None, :]          # [P, rows, Ci]
            outs.append(seq_sum(terms).reshape(a["weight_rows"], 1, 1, ci))
        if a["input_grad"]:
            w2 = np.asarray(w, F32).reshape(c, ci)
            acc = np.zeros((g.shape[0], ci), F32)
            for co in range(c):                                           # channels ascending
                acc = acc + g[:, co, None] * w2[co][None, :]
            outs.append(acc.reshape(n, h, wd, ci))
        return outs

    def macs(self, node, g):
        n, h, w, c = node.attrs["in_shape"]
        ci = node.attrs["in_c"]
        return n * h * w * ci * (node.attrs["weight_rows"] + (c if node.attrs["input_grad"] else 0))
