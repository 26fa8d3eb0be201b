"""Backward ops of convolution and average pooling, NHWC, weights [Cout, KH, KW, Cin/groups]
(docs/training.md gives the summation orders the C kernels repeat)."""
import numpy as np

from .base import REQUIRED, register
from .train_base import F32, SeqSum, TrainOp


def _padded_size(node, h, w, oh, ow, kh, kw):
    sh, sw = node.attrs["strides"]
    dh, dw = node.attrs["dilations"]
    t, l, b, r = node.attrs["pads"]
    return (max(h + t + b, (oh - 1) * sh + (kh - 1) * dh + 1),
            max(w + l + r, (ow - 1) * sw + (kw - 1) * dw + 1))


@register
class Conv2DGradInput(TrainOp):
    """(dy [N,OH,OW,Co], w [Co,KH,KW,Ci/g]) -> dx [N,H,W,Ci] = the transposed convolution.
    Each dx element sums its terms in the order kh ascending, kw ascending, co ascending."""
    name = "conv2d_grad_input"
    attrs = {"strides": (1, 1), "dilations": (1, 1), "pads": (0, 0, 0, 0), "groups": 1,
             "in_shape": REQUIRED}

    def infer(self, node, ins):
        return [(tuple(node.attrs["in_shape"]), "float32")]

    def run_train(self, node, xs, p):
        dy, w = np.asarray(xs[0], F32), np.asarray(xs[1], F32)
        n, h, wd, ci = node.attrs["in_shape"]
        _, oh, ow, co = dy.shape
        _, kh, kw, cg = w.shape
        G = node.attrs["groups"]
        mg = co // G
        sh, sw = node.attrs["strides"]
        dh, dw = node.attrs["dilations"]
        t, l, _, _ = node.attrs["pads"]
        ph, pw = _padded_size(node, h, wd, oh, ow, kh, kw)
        dxp = np.zeros((n, ph, pw, G, cg), F32)
        dyg = dy.reshape(n, oh, ow, G, mg)
        wg = w.reshape(G, mg, kh, kw, cg)
        for i in range(kh):
            for j in range(kw):
                rs = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
                cs = slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)
                for m in range(mg):
                    dxp[:, rs, cs] += dyg[:, :, :, :, m, None] * wg[None, None, None, :, m, i, j, :]
        return [dxp[:, t:t + h, l:l + wd].reshape(n, h, wd, ci)]

    def macs(self, node, g):
        dy = g.tensors[node.inputs[0]].shape
        w = g.tensors[node.inputs[1]].shape
        return int(np.prod(dy)) * w[1] * w[2] * w[3]


@register
class Conv2DGradWeight(TrainOp):
    """(x [N,H,W,Ci], dy [N,OH,OW,Co]) -> dw [rows,KH,KW,Ci/g] for the first `rows` output
    channels; each element sums over (n, oh, ow) in that (row-major) order."""
    name = "conv2d_grad_weight"
    attrs = {"strides": (1, 1), "dilations": (1, 1), "pads": (0, 0, 0, 0), "groups": 1,
             "kernel": REQUIRED, "rows": REQUIRED}
    CHUNK = 1 << 22  # floats per block of terms (memory bound of the golden model only)

    def infer(self, node, ins):
        kh, kw = node.attrs["kernel"]
        ci = ins[0].shape[3]
        co = ins[1].shape[3]
        rows = node.attrs["rows"]
        if not 0 < rows <= co:
            raise ValueError(f"conv2d_grad_weight {node.name}: rows {rows} outside 1..{co}")
        return [((rows, kh, kw, ci // node.attrs["groups"]), "float32")]

    def run_train(self, node, xs, p):
        x, dy = np.asarray(xs[0], F32), np.asarray(xs[1], F32)
        n, h, wd, ci = x.shape
        _, oh, ow, co = dy.shape
        kh, kw = node.attrs["kernel"]
        G = node.attrs["groups"]
        cg, mg = ci // G, co // G
        rows = node.attrs["rows"]
        sh, sw = node.attrs["strides"]
        dh, dw = node.attrs["dilations"]
        t, l, b, r = node.attrs["pads"]
        xp = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
        # patches[n, oh, ow, kh, kw, ci]
        pat = np.empty((n, oh, ow, kh, kw, ci), F32)
        for i in range(kh):
            for j in range(kw):
                pat[:, :, :, i, j] = xp[:, i * dh: i * dh + (oh - 1) * sh + 1: sh,
                                        j * dw: j * dw + (ow - 1) * sw + 1: sw]
        pat = pat.reshape(n * oh * ow, kh, kw, G, cg)
        dyf = dy.reshape(n * oh * ow, co)[:, :rows]
        grp = np.arange(rows) // mg                      # group of each trained output channel
        acc = SeqSum((rows, kh, kw, cg))
        step = max(1, self.CHUNK // max(1, rows * kh * kw * cg))
        for s in range(0, n * oh * ow, step):
            pc = pat[s:s + step][:, :, :, grp, :]        # [P, kh, kw, rows, cg]
            terms = pc.transpose(0, 3, 1, 2, 4) * dyf[s:s + step, :, None, None, None]
            acc.add(terms)
        return [acc.acc]

    def macs(self, node, g):
        dy = g.tensors[node.inputs[1]].shape
        dw = g.tensors[node.outputs[0]].shape
        return int(np.prod(dy[:3])) * int(np.prod(dw))


@register
class AvgPoolGrad(TrainOp):
    """(dy [N,OH,OW,C]) -> dx [N,H,W,C]: q = dy / count(window) (float32 division), then each dx
    element sums the q of the windows holding it, in the order kh ascending, kw ascending."""
    name = "avgpool_grad"
    attrs = {"kernel": REQUIRED, "strides": (1, 1), "pads": (0, 0, 0, 0), "dilations": (1, 1),
             "count_include_pad": 0, "in_shape": REQUIRED}

    def infer(self, node, ins):
        return [(tuple(node.attrs["in_shape"]), "float32")]

    @staticmethod
    def counts(node, h, w, oh, ow):
        kh, kw = node.attrs["kernel"]
        if node.attrs["count_include_pad"]:
            return np.full((oh, ow), kh * kw, F32)
        sh, sw = node.attrs["strides"]
        dh, dw = node.attrs["dilations"]
        t, l, _, _ = node.attrs["pads"]
        cnt = np.zeros((oh, ow), np.int64)
        for i in range(kh):
            for j in range(kw):
                hh = np.arange(oh) * sh + i * dh - t
                ww = np.arange(ow) * sw + j * dw - l
                cnt += ((hh >= 0) & (hh < h))[:, None] & ((ww >= 0) & (ww < w))[None, :]
        return cnt.astype(F32)

    def run_train(self, node, xs, p):
        dy = np.asarray(xs[0], F32)
        n, h, wd, c = node.attrs["in_shape"]
        _, oh, ow, _ = dy.shape
        kh, kw = node.attrs["kernel"]
        sh, sw = node.attrs["strides"]
        dh, dw = node.attrs["dilations"]
        t, l, _, _ = node.attrs["pads"]
        q = dy / self.counts(node, h, wd, oh, ow)[None, :, :, None]
        ph, pw = _padded_size(node, h, wd, oh, ow, kh, kw)
        dxp = np.zeros((n, ph, pw, c), F32)
        for i in range(kh):
            for j in range(kw):
                dxp[:, i * dh: i * dh + (oh - 1) * sh + 1: sh, j * dw: j * dw + (ow - 1) * sw + 1: sw] += q
        return [dxp[:, t:t + h, l:l + wd]]
