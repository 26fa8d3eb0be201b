"""Quantization-aware training of int4 and ternary weights in PyTorch, exported as QONNX.

    prepare_qat(model, bits=4)              # or {"conv1": 2, "fc": 4}, or 2 (ternary) everywhere
    ... train as usual (the forward sees fake-quantized weights) ...
    export_qonnx(model, example_input, "net.onnx")   # Quant nodes on the weights, widths inside
    compile_model("net.onnx", out, calib=x)          # mcuforge reads the trained widths

The weights of Conv2d / Linear modules are re-parametrised (torch.nn.utils.parametrize): the
latent float weight trains, the forward uses its projection on the grid with the straight-through
estimator (round's gradient taken as 1 inside the clip range):
  - int4: per output channel, scale max|w| / 7, values in [-7, 7] (quant.subbyte's grid);
  - ternary (BitNet b1.58): per output channel, scale mean|w| (absmean) or median|w|, values
    clip(round(w / scale), -1, 1).
The scales follow the latent weights, as quant.subbyte computes them, so the ONNX export carries
exactly the integers and scales the C backend stores. torch is imported lazily (optional extra).
Batch normalisation must be folded into the convolutions before (fold_batchnorm).

scales="pow2" (the FPGA backends' scheme): each output channel's scale is a power of two 2^-F_c
chosen by quant/subbyte.py: fixed_subbyte_weights (the rule `mcuforge hls / rtl --weight-bits 4|2`
applies after training, values rounded half up), recomputed from the latent weights at every
forward. The QONNX export then carries power-of-two per-channel scales on narrow 4-bit / 2-bit
grids, which the FPGA path maps to its sub-byte layers (raw int4 / ternary weights and a left shift
of each channel's sum, quant/qonnx.py: subbyte_weights) exactly, so the trained forward, the
golden model, HLS C-simulation and Verilog compute the same weights.
"""
from __future__ import annotations

import numpy as np

from ..errors import McuforgeError
from .subbyte import QMAX
from .torch_graph import _torch

QONNX_DOMAIN = "qonnx.custom_op.general"


SCALES = ("free", "pow2", "pow2-frozen")


def _pow2_grid(w, bits: int, ternary: str):
    """(integers, scales) of the FPGA rule (fixed_subbyte_weights) on the detached weights."""
    from .subbyte import fixed_subbyte_weights
    torch = _torch()
    raw, t, shifts = fixed_subbyte_weights(w.detach().cpu().double().numpy(), bits, ternary)
    s = np.ldexp(1.0, (shifts - t.frac).astype(np.int64)).reshape((-1,) + (1,) * (w.ndim - 1))
    return (torch.as_tensor(raw, dtype=w.dtype, device=w.device),
            torch.as_tensor(s, dtype=w.dtype, device=w.device))


def _grid_scale(w, bits: int, ternary: str):
    torch = _torch()
    flat = w.detach().abs().reshape(w.shape[0], -1)
    if bits == 2:
        s = flat.mean(1) if ternary == "absmean" else flat.median(1).values
        if ternary == "median":
            s = torch.where(s > 0, s, flat.mean(1))
        qmax = 1
    elif bits in (4, 8):
        qmax = 2 ** (bits - 1) - 1
        s = flat.max(1).values / qmax
    else:
        raise McuforgeError(f"QAT weight width {bits}: expected 8, 4 or 2")
    s = torch.where(s > 0, s, torch.ones_like(s))
    return s.reshape((-1,) + (1,) * (w.ndim - 1)), qmax


def _on_frozen_grid(w, bits: int, s):
    """Integers of w on fixed per-channel scales s, rounded half up as the fixed scheme does."""
    torch = _torch()
    m = QMAX[bits]
    return torch.clamp(torch.floor(w.detach() / s + 0.5), -m, m)


def fake_quant_ste(w, bits: int, ternary: str = "absmean", scales: str = "free", frozen=None):
    """The forward value s * clip(round(w / s), -qmax, qmax); gradient straight through.
    frozen: per-channel scales held fixed (scales "pow2-frozen")."""
    torch = _torch()
    if frozen is not None:
        return w + (_on_frozen_grid(w, bits, frozen) * frozen - w).detach()
    if scales == "pow2":
        q, s = _pow2_grid(w, bits, ternary)
        return w + (q * s - w).detach()
    s, qmax = _grid_scale(w, bits, ternary)
    u = w / s
    uq = torch.clamp(torch.round(u), -qmax, qmax)
    return (u + (uq - u).detach()) * s


def quantized_weight(w, bits: int, ternary: str = "absmean", scales: str = "free",
                     frozen=None) -> tuple[np.ndarray, np.ndarray]:
    """(integers, per-channel scales) of a latent weight tensor, in the module's layout."""
    torch = _torch()
    if frozen is not None:
        return (_on_frozen_grid(w, bits, frozen).cpu().numpy().astype(np.int64),
                frozen.detach().reshape(-1).cpu().numpy().astype(np.float64))
    if scales == "pow2":
        q, s = _pow2_grid(w, bits, ternary)
        return q.cpu().numpy().astype(np.int64), s.reshape(-1).cpu().numpy().astype(np.float64)
    with torch.no_grad():
        s, qmax = _grid_scale(w, bits, ternary)
        q = torch.clamp(torch.round(w / s), -qmax, qmax)
    return q.cpu().numpy().astype(np.int64), s.reshape(-1).cpu().numpy().astype(np.float64)


def _make_param(bits: int, ternary: str, scales: str = "free", weight=None):
    torch = _torch()

    class LowBitWeight(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bits, self.ternary, self.scales = bits, ternary, scales
            # pow2-frozen: the FPGA rule's scales of the weights QAT starts from, held fixed
            self.register_buffer("frozen", _pow2_grid(weight, bits, ternary)[1] if scales == "pow2-frozen" else None)

        def forward(self, w):
            return fake_quant_ste(w, self.bits, self.ternary, self.scales, self.frozen)

    return LowBitWeight()


def qat_layers(model) -> dict:
    torch = _torch()
    return {name: m for name, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))}


def prepare_qat(model, bits=4, ternary: str = "absmean", scales: str = "free"):
    """Fake-quantize the weights of every Conv2d / Linear (an int: one width for all; a dict
    {module name: bits}: those modules). scales "free" (the C backends' max|w| / 7, absmean or
    median) or "pow2" (the FPGA backends' per-channel powers of two; widths 4 and 2 only).
    Returns the model (changed in place)."""
    from torch.nn.utils import parametrize
    if scales not in SCALES:
        raise McuforgeError(f"QAT scales {scales!r}: expected one of {', '.join(SCALES)}")
    layers = qat_layers(model)
    chosen = {n: bits for n in layers} if isinstance(bits, int) else dict(bits)
    for name, b in chosen.items():
        if name not in layers:
            raise McuforgeError(f"QAT: {name!r} is not a Conv2d / Linear module (modules: {', '.join(layers)})")
        if parametrize.is_parametrized(layers[name], "weight"):
            parametrize.remove_parametrizations(layers[name], "weight", leave_parametrized=False)
        if b != 32:
            if scales != "free" and int(b) not in (4, 2):
                raise McuforgeError(f"QAT {name}: power-of-two scales are for 4-bit and ternary weights, not {b} bits")
            parametrize.register_parametrization(layers[name], "weight",
                                                 _make_param(int(b), ternary, scales, layers[name].weight))
    return model


def qat_widths(model) -> dict:
    from torch.nn.utils import parametrize
    out = {}
    for name, m in qat_layers(model).items():
        if parametrize.is_parametrized(m, "weight"):
            out[name] = m.parametrizations.weight[0].bits
    return out


def train(model, x: np.ndarray, y: np.ndarray, epochs: int = 3, lr: float = 1e-3, batch: int = 64,
          seed: int = 0, quiet: bool = True):
    """A plain Adam / cross-entropy loop (for the examples and the benchmark)."""
    torch = _torch()
    torch.manual_seed(seed)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * ((len(xt) + batch - 1) // batch))
    model.train()
    for ep in range(epochs):
        perm = torch.randperm(len(xt))
        total = 0.0
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        if not quiet:
            print(f"epoch {ep + 1}: loss {total / len(xt):.4f}", flush=True)
    model.eval()
    return model


def fold_batchnorm(model, pairs=()):
    """Fold every BatchNorm2d that directly follows a Conv2d in a Sequential into that conv (eval),
    and each (conv name, batchnorm name) of `pairs` (a module whose forward calls bn(conv(x))): the
    conv takes the folded weights and bias, the BatchNorm becomes an Identity."""
    torch = _torch()
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    model.eval()
    for conv_name, bn_name in pairs:
        conv, bn = model.get_submodule(conv_name), model.get_submodule(bn_name)
        if not isinstance(conv, torch.nn.Conv2d) or not isinstance(bn, torch.nn.BatchNorm2d):
            raise McuforgeError(f"fold_batchnorm: {conv_name!r} / {bn_name!r} are not a Conv2d and a BatchNorm2d")
        for name, new in ((conv_name, fuse_conv_bn_eval(conv, bn)), (bn_name, torch.nn.Identity())):
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, attr, new)
    for parent in model.modules():
        if isinstance(parent, torch.nn.Sequential):
            mods = list(parent._modules.items())
            for (n1, a), (n2, b) in zip(mods, mods[1:]):
                if isinstance(a, torch.nn.Conv2d) and isinstance(b, torch.nn.BatchNorm2d):
                    parent._modules[n1] = fuse_conv_bn_eval(a, b)
                    parent._modules[n2] = torch.nn.Identity()
    return model


def export_qonnx(model, example_input, path, opset: int = 13):
    """ONNX with a QONNX `Quant` node (signed, narrow range, per-channel scale, zero point 0) on the
    weight of every QAT layer; the other layers stay float. mcuforge's frontend reads the integers
    and the widths (tensor meta q_int / q_bits), and compile_model stores them packed."""
    import io

    import onnx
    from onnx import helper, numpy_helper
    torch = _torch()
    from torch.nn.utils import parametrize
    widths = qat_widths(model)
    grids = {}
    for name, m in qat_layers(model).items():
        if name in widths:
            p = m.parametrizations.weight[0]
            q, s = quantized_weight(m.parametrizations.weight.original, p.bits, p.ternary, p.scales, p.frozen)
            grids[name] = (q, s, p.bits)
    import copy
    # a parametrized module's class is generated per module and a deep copy shares it: take the
    # parametrizations off, copy, and put them back on the original (its latent weights unchanged)
    params = {}
    for name, m in qat_layers(model).items():
        if name in grids:
            params[name] = m.parametrizations.weight[0]
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
    plain = copy.deepcopy(model).eval()
    for name, m in qat_layers(model).items():
        if name in params:  # the same parametrization modules (their settings, frozen scales) go back on
            parametrize.register_parametrization(m, "weight", params[name])
    model = plain
    for name, m in qat_layers(model).items():
        if name in grids:   # export the exact grid values as plain weights, Quant nodes added below
            q, s, _ = grids[name]
            m.weight.data = torch.tensor(q * s.reshape((-1,) + (1,) * (q.ndim - 1)), dtype=m.weight.dtype)
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, torch.as_tensor(example_input, dtype=torch.float32), buf, dynamo=False,
                          opset_version=opset, do_constant_folding=True)
    mp = onnx.load_from_string(buf.getvalue())
    inits = {i.name: i for i in mp.graph.initializer}
    used = set()
    new_nodes = []
    for name, (q, s, bits) in grids.items():
        real = (q * s.reshape((-1,) + (1,) * (q.ndim - 1))).astype(np.float32)
        match = [k for k, t in inits.items() if k not in used and tuple(t.dims) == real.shape
                 and np.allclose(numpy_helper.to_array(t), real, rtol=1e-5, atol=1e-7)]
        if len(match) != 1:
            raise McuforgeError(f"QAT export: cannot find the ONNX initializer of {name} "
                                f"({len(match)} candidates; fold batch norm before QAT)")
        wname = match[0]
        used.add(wname)
        sname, zname, bname, qname = wname + "_qscale", wname + "_qzp", wname + "_qbits", wname + "_quant"
        scale = s.reshape((-1,) + (1,) * (q.ndim - 1)).astype(np.float32)
        mp.graph.initializer.extend([numpy_helper.from_array(scale, sname),
                                     numpy_helper.from_array(np.zeros((), np.float32), zname),
                                     numpy_helper.from_array(np.array(bits, np.float32), bname)])
        for node in mp.graph.node:
            node.input[:] = [qname if i == wname else i for i in node.input]
        new_nodes.append(helper.make_node("Quant", [wname, sname, zname, bname], [qname], name=f"{name}_weight_quant",
                                          domain=QONNX_DOMAIN, signed=1, narrow=1, rounding_mode="ROUND"))
    nodes = new_nodes + list(mp.graph.node)
    del mp.graph.node[:]
    mp.graph.node.extend(nodes)
    if not any(o.domain == QONNX_DOMAIN for o in mp.opset_import):
        mp.opset_import.append(helper.make_opsetid(QONNX_DOMAIN, 1))
    onnx.save(mp, str(path))
    return path
