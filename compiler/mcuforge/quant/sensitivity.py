"""Per-layer sensitivity to low-bit weights, and post-training fixes for it.

1. HAWQ-V2: the trace of each weight layer's Hessian block, Tr(H_i) = E[v_i^T H v_i] over Rademacher
   vectors v (Hutchinson), with Hessian-vector products by double backprop through a PyTorch copy
   of the float graph (quant.torch_graph). A layer at width b gets
       Omega_i(b) = Tr(H_i) / n_i * ||Q_b(W_i) - W_i||^2
   and the predicted loss increase of a configuration is the second-order Taylor term
       dL = 1/2 sum_i Omega_i(b_i) + sum_{i~j} dW_i(b_i)^T H_ij dW_j(b_j).
2. Inter-layer augmentation: the off-diagonal blocks between neighbouring layers (j reads, through
   layers without weights, what i writes; residual branches included) are not approximated by a
   trace but measured exactly on the actual perturbations: one Hessian-vector product per (layer,
   width), v = dW_j(b), gives H_ij dW_j(b) for every i, dotted with dW_i(b'). Pairwise cross-layer
   terms are the idea of "Augmenting Hessians with Inter-Layer Dependencies" (Schaefer et al. 2023)
   and CLADO (Deng et al.); here they are second-order terms of the same Taylor expansion, so they
   add to the HAWQ-V2 diagonal in one objective, which bit_allocation linearises in its MILP.
   The exact diagonal forms dW_i^T H_ii dW_i are kept too (`exact`), for comparison with Omega.
3. Bias correction (Nagel et al., "Data-free quantization", empirical form): the mean output shift
   that quantized weights cause on the calibration inputs, E[conv(x, Q(W) - W)] per channel, is
   subtracted from the bias.
4. Layer-wise calibration (AdaQuant, Hubara et al.): layer by layer in execution order, the
   quantized weights (straight-through rounding), their per-channel scale and the bias are
   optimised so that the layer, fed with the partly quantized model's activations, matches the
   float layer's output on the calibration set (MSE). The result is pinned in the graph as integer
   weights plus scale (tensor meta "q_int"), which quantize_int8 keeps.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import McuforgeError
from ..ir.graph import Graph
from ..ir.tensor import QuantParams
from .subbyte import WEIGHT_BITS as WIDTHS, grid_max, packed_nbytes, quantize_weights_bits
from .torch_graph import WEIGHT_OPS, TorchGraph, _torch


@dataclass
class LayerSensitivity:
    name: str
    op: str
    n_params: int
    trace: float                     # Hutchinson estimate of Tr(H_i)
    trace_std: float                 # its standard error over the probes
    sq_err: dict = field(default_factory=dict)    # bits -> ||Q_b(W) - W||^2
    omega: dict = field(default_factory=dict)     # bits -> Tr(H)/n * ||Q_b(W) - W||^2
    exact: dict = field(default_factory=dict)     # bits -> dW^T H_ii dW (exact quadratic form)
    bytes: dict = field(default_factory=dict)     # bits -> packed weight bytes


@dataclass
class Sensitivity:
    layers: list[LayerSensitivity]
    pairs: dict = field(default_factory=dict)     # (i, j) layer names -> {(b_i, b_j): dW_i^T H_ij dW_j}, clipped
    pairs_raw: dict = field(default_factory=dict)  # the same before the Cauchy-Schwarz clip
    widths: tuple = WIDTHS
    n_probe: int = 0
    n_samples: int = 0
    loss: float = 0.0

    def layer(self, name: str) -> LayerSensitivity:
        return next(l for l in self.layers if l.name == name)

    def cost(self, name: str, bits: int) -> float:
        """The layer's own term of the predicted loss increase: 1/2 Omega."""
        return 0.5 * self.layer(name).omega[bits]

    def predicted_loss(self, config: dict, interlayer: bool = True) -> float:
        total = sum(self.cost(l.name, config[l.name]) for l in self.layers)
        if interlayer:
            total += sum(terms[(config[i], config[j])] for (i, j), terms in self.pairs.items())
        return float(total)

    def to_dict(self) -> dict:
        return {"n_probe": self.n_probe, "n_samples": self.n_samples, "loss": self.loss,
                "layers": [{"name": l.name, "op": l.op, "n_params": l.n_params, "trace": l.trace,
                            "trace_std": l.trace_std, "omega": l.omega, "exact": l.exact, "bytes": l.bytes}
                           for l in self.layers],
                "pairs": [{"i": i, "j": j, "terms": {f"{a},{b}": v for (a, b), v in t.items()}}
                          for (i, j), t in self.pairs.items()]}


def weight_layers(g: Graph) -> list[str]:
    return [n.name for n in g.topo_order() if n.op in WEIGHT_OPS]


def neighbour_pairs(g: Graph) -> list[tuple[str, str]]:
    """(i, j) with weight layer j reading, through nodes without weights, an output of weight layer i."""
    pairs = []
    for n in g.topo_order():
        if n.op not in WEIGHT_OPS:
            continue
        seen, stack, found = set(), [n.inputs[0]], []
        while stack:
            t = stack.pop()
            p = g.producer(t)
            if p is None or p.name in seen:
                continue
            seen.add(p.name)
            if p.op in WEIGHT_OPS:
                found.append(p.name)
            else:
                stack.extend(i for i in p.inputs if i and not g.tensors[i].is_const)
        pairs += [(i, n.name) for i in sorted(found)]
    return pairs


def _loss_fn(g: Graph, out, labels):
    """Cross entropy of each output (flattened per sample) to its labels, summed over the outputs
    (a model with several outputs, e.g. a detector's heads: out and labels are lists)."""
    torch = _torch()
    if isinstance(out, (list, tuple)):
        return sum(_loss_one(g, k, o, lab) for k, (o, lab) in enumerate(zip(out, labels)))
    return _loss_one(g, 0, out, labels)


def _loss_one(g: Graph, k: int, out, labels):
    torch = _torch()
    last = g.producer(g.outputs[k])
    if last is not None and last.op == "softmax":
        logp = torch.log(out.clamp_min(1e-12))
    else:
        logp = torch.log_softmax(out.reshape(out.shape[0], -1), dim=1)
    return torch.nn.functional.nll_loss(logp.reshape(out.shape[0], -1), labels)


def _batch(x, limit: int | None):
    x = np.asarray(x)
    return x[:limit] if limit else x


def device_batch(g: Graph, x: np.ndarray) -> np.ndarray:
    """Samples in the model's own layout (NCHW for ONNX, batch first) -> the graph's device layout."""
    perm = g.meta.get("io_perm", {}).get(g.inputs[0])
    x = np.asarray(x, np.float64)
    shape = g.tensors[g.inputs[0]].shape
    if perm:
        user = tuple(shape[i] for i in np.argsort(perm))
        x = x.reshape((x.shape[0],) + user[1:])
        return np.transpose(x, (0,) + tuple(p for p in perm[1:]))
    return x.reshape((x.shape[0],) + tuple(shape[1:]))


def hessian_sensitivity(g: Graph, x: np.ndarray, labels: np.ndarray | None = None, widths=WIDTHS,
                        n_probe: int = 64, interlayer: bool = True, seed: int = 0, max_samples: int = 512,
                        ternary: str = "absmean") -> Sensitivity:
    """x: float samples in device layout (N, *input shape[1:]); labels (N,) class indices, or None
    to use the float model's own predictions (the loss is then the cross entropy to them)."""
    torch = _torch()
    tg = TorchGraph(g)
    x = torch.tensor(_batch(x, max_samples), dtype=tg.dtype)
    if labels is None:
        with torch.no_grad():
            out = tg.run(x)
        if isinstance(out, (list, tuple)):      # several outputs: each to its own argmax
            labels = [o.reshape(o.shape[0], -1).argmax(1) for o in out]
        else:
            labels = out.reshape(out.shape[0], -1).argmax(1)
    else:
        if len(g.outputs) != 1:
            raise McuforgeError(f"class labels (--calib-data) need a model with one output; this one has "
                                f"{len(g.outputs)} (leave them out: each output is then fitted to the float "
                                "model's own predictions)")
        labels = torch.tensor(np.asarray(labels)[:len(x)], dtype=torch.long)
    params = tg.params()
    loss = _loss_fn(g, tg.run(x), labels)
    grads = torch.autograd.grad(loss, params, create_graph=True)

    def hvp(vs):
        return torch.autograd.grad(grads, params, grad_outputs=vs, retain_graph=True)

    gen = torch.Generator().manual_seed(seed)
    est = [[] for _ in params]
    for _ in range(n_probe):
        vs = [torch.randint(0, 2, p.shape, generator=gen).to(p.dtype) * 2 - 1 for p in params]
        hv = hvp(vs)
        for k, (v, h) in enumerate(zip(vs, hv)):
            est[k].append(float((v * h).sum()))

    layers = []
    deltas = {}
    for k, name in enumerate(tg.layers):
        w = tg.weights[name].detach().cpu().numpy()
        t = np.array(est[k])
        ls = LayerSensitivity(name, g.node(name).op, int(w.size), float(t.mean()),
                              float(t.std(ddof=1) / np.sqrt(len(t))) if len(t) > 1 else 0.0)
        for b in widths:
            q, s = _quantize(w, b, ternary)
            d = q * s.reshape((-1,) + (1,) * (w.ndim - 1)) - w
            deltas[(name, b)] = d
            ls.sq_err[b] = float((d ** 2).sum())
            ls.omega[b] = max(ls.trace, 0.0) / ls.n_params * ls.sq_err[b]
            ls.bytes[b] = packed_nbytes(w.size, b)
        layers.append(ls)

    sens = Sensitivity(layers, widths=tuple(widths), n_probe=n_probe, n_samples=len(x), loss=float(loss.detach()))
    pairs = neighbour_pairs(g) if interlayer else []
    # how many pairs each layer is in: the clip below shares a layer's diagonal term among them
    degree = {name: sum(name in p for p in pairs) for name in tg.layers}
    idx = {name: k for k, name in enumerate(tg.layers)}
    for name in tg.layers:
        for b in widths:
            vs = [torch.zeros_like(p) for p in params]
            vs[idx[name]] = torch.tensor(deltas[(name, b)], dtype=tg.dtype)
            hv = hvp(vs)
            sens.layer(name).exact[b] = float((vs[idx[name]] * hv[idx[name]]).sum())
            for (i, j) in pairs:
                if j == name:
                    for bi in widths:
                        term = float((torch.tensor(deltas[(i, bi)], dtype=tg.dtype) * hv[idx[i]]).sum())
                        sens.pairs_raw.setdefault((i, j), {})[(bi, b)] = term
                        # Cauchy-Schwarz for a positive semi-definite H with the diagonal terms
                        # used (Omega), divided by the larger of the two layers' pair counts: a
                        # layer in d pairs lends each 1/d of its 1/2 Omega (AM-GM), so the whole
                        # predicted loss stays >= 0 for every configuration and noise in the trace
                        # estimates cannot turn cross terms into a reward for low widths. (The
                        # per-pair bound alone let a layer with two or more neighbours sum its
                        # cross terms below -1/2 Omega: tiny YOLO's allocation went all ternary at
                        # a predicted loss of -0.035 with 12.5 KB of its budget unused.)
                        bound = np.sqrt(sens.layer(i).omega[bi] * sens.layer(j).omega[b]) / max(degree[i], degree[j])
                        sens.pairs.setdefault((i, j), {})[(bi, b)] = float(np.clip(term, -bound, bound))
    return sens


# -- post-training fixes ---------------------------------------------------------------------------
def _layer_forward(tg: TorchGraph, name: str, x_in, w, b):
    n = tg.g.node(name)
    saved_b = tg.biases.get(name)
    if b is not None:
        tg.biases[name] = b
    try:
        return getattr(tg, "_op_" + n.op)(n, [x_in], {name: w})
    finally:
        if saved_b is not None:
            tg.biases[name] = saved_b


def _set_bias(g: Graph, name: str, bias: np.ndarray):
    n = g.node(name)
    if len(n.inputs) > 2 and n.inputs[2]:
        g.tensors[n.inputs[2]].data = bias.astype(np.float32)
    else:
        c = g.const(name + "_bias", bias.astype(np.float32), "float32")
        g.set_inputs(n, list(n.inputs[:2]) + [c.name])


def bias_correction(g: Graph, x: np.ndarray, config: dict, ternary: str = "absmean",
                    max_samples: int = 512) -> Graph:
    """A copy of g whose biases absorb the mean output shift of each layer's quantized weights."""
    torch = _torch()
    g = g.copy()
    tg = TorchGraph(g)
    with torch.no_grad():
        env = tg.run(torch.tensor(_batch(x, max_samples), dtype=tg.dtype), keep=True)
        for name, bits in config.items():
            n = g.node(name)
            w = tg.weights[name].numpy()
            q, s = _quantize(w, bits, ternary)
            dw = torch.tensor(q * s.reshape((-1,) + (1,) * (w.ndim - 1)) - w, dtype=tg.dtype)
            saved = dict(n.attrs)
            n.attrs.update(act_min=None, act_max=None)   # the shift before the activation
            try:
                zero = torch.zeros(w.shape[0], dtype=tg.dtype)
                shift = _layer_forward(tg, name, env[n.inputs[0]], dw, zero)
            finally:
                n.attrs.clear()
                n.attrs.update(saved)
            mean_shift = shift.reshape(-1, w.shape[0]).mean(0).numpy()
            b = g.tensors[n.inputs[2]].data.astype(np.float64) if len(n.inputs) > 2 and n.inputs[2] \
                else np.zeros(w.shape[0])
            _set_bias(g, name, b - mean_shift)
    return g


def pin_weights(g: Graph, name: str, q: np.ndarray, scale: np.ndarray, bits: int):
    """Fix a layer's integer weights and per-channel scale (quantize_int8 keeps them)."""
    n = g.node(name)
    w = g.tensors[n.inputs[1]]
    scale = np.asarray(scale, np.float64).reshape(-1)
    w.data = (q * scale.reshape((-1,) + (1,) * (q.ndim - 1))).astype(np.float32)
    w.quant = QuantParams(scale, np.zeros(len(scale), np.int64), axis=0)
    w.meta["q_int"] = q.astype(np.int8)
    n.attrs["weight_bits"] = int(bits)


def adaquant(g: Graph, x: np.ndarray, config: dict, steps: int = 300, lr: float = 1e-3,
             ternary: str = "absmean", max_samples: int = 512, learn_scale: bool = True,
             seed: int = 0) -> Graph:
    """Layer-wise calibration (AdaQuant): a copy of g whose layers in `config` carry optimised integer
    weights (pinned, see pin_weights), scales and biases."""
    torch = _torch()
    torch.manual_seed(seed)
    g = g.copy()
    tf = TorchGraph(g)
    tq = TorchGraph(g)
    xb = torch.tensor(_batch(x, max_samples), dtype=tf.dtype)
    with torch.no_grad():
        env_f = tf.run(xb, keep=True)
    for name in tq.layers:
        if name not in config:
            continue
        bits = config[name]
        n = g.node(name)
        with torch.no_grad():
            env_q = tq.run(xb, keep=True)
        x_in, target = env_q[n.inputs[0]].detach(), env_f[n.outputs[0]].detach()
        w0 = tf.weights[name].detach().numpy()
        q0, s0 = _quantize(w0, bits, ternary)
        lo, hi = _grid(bits)
        shape = (-1,) + (1,) * (w0.ndim - 1)
        v = torch.tensor(w0, dtype=tf.dtype, requires_grad=True)
        log_s = torch.tensor(np.log(np.maximum(s0, 1e-12)).reshape(shape), dtype=tf.dtype, requires_grad=learn_scale)
        b0 = tf.biases[name].detach().clone() if name in tf.biases else torch.zeros(w0.shape[0], dtype=tf.dtype)
        b = b0.clone().requires_grad_(True)
        opt = torch.optim.Adam([v, b] + ([log_s] if learn_scale else []), lr=lr)

        def fq():
            s = torch.exp(log_s)
            u = v / s
            r = u + (torch.round(u) - u).detach()     # straight-through rounding
            return torch.clamp(r, lo, hi) * s, s

        def err():
            wq, _ = fq()
            return ((_layer_forward(tq, name, x_in, wq, b) - target) ** 2).mean()

        with torch.no_grad():
            best = float(err())
            best_state = (v.detach().clone(), log_s.detach().clone(), b.detach().clone())
        for _ in range(steps):
            opt.zero_grad()
            e = err()
            e.backward()
            opt.step()
            with torch.no_grad():
                e_now = float(err())
                if e_now < best:
                    best, best_state = e_now, (v.detach().clone(), log_s.detach().clone(), b.detach().clone())
        with torch.no_grad():
            v.copy_(best_state[0])
            log_s.copy_(best_state[1])
            b.copy_(best_state[2])
            s = torch.exp(log_s)
            q = torch.clamp(torch.round(v / s), lo, hi)
            tq.weights[name] = torch.nn.Parameter(q * s)
            if name in tq.biases or True:
                tq.biases[name] = torch.nn.Parameter(b.detach().clone())
        pin_weights(g, name, q.numpy().astype(np.int8), s.reshape(-1).numpy(), bits)
        _set_bias(g, name, b.detach().numpy())
    return g


def _grid(bits: int) -> tuple[int, int]:
    return -grid_max(bits), grid_max(bits)


def _quantize(w: np.ndarray, bits: int, ternary: str) -> tuple[np.ndarray, np.ndarray]:
    """Integer weights and per-channel scales as quantize_int8 makes them (quant.subbyte)."""
    q, qp = quantize_weights_bits(w, bits, True, ternary)
    return q.astype(np.float64), np.asarray(qp.scale, np.float64)
