"""ZeroQ: calibration data distilled from the float model alone. Starting from Gaussian noise,
the inputs are optimised so that, at the input of every BatchNormalization node, the batch's
per-channel mean and standard deviation match the running statistics the node stores (ZeroQ's
Batch-Normalization statistics loss). Any calibration method can then use these inputs.

The BatchNorm nodes must still be in the ONNX file: export from PyTorch with
`torch.onnx.export(..., dynamo=False, do_constant_folding=False)`. The ONNX graph runs in a small
torch interpreter of its own (only to get gradients with respect to the input; torch is an
optional dependency, imported here only)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import McuforgeError, UnsupportedOpError


def _torch():
    try:
        import torch
    except ImportError:
        raise McuforgeError("ZeroQ needs torch (CPU build): pip install torch") from None
    return torch


def _attrs(node) -> dict:
    import onnx.helper
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class TorchOnnx:
    """Runs an ONNX float CNN with torch ops (differentiable) and records, for every
    BatchNormalization node, its input and its stored mean and variance."""

    def __init__(self, model):
        import onnx
        import onnx.numpy_helper
        torch = _torch()
        self.model = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))
        g = self.model.graph
        self.consts = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy()) for t in g.initializer}
        init = set(self.consts)
        self.inputs = [i for i in g.input if i.name not in init]
        if len(self.inputs) != 1:
            raise McuforgeError(f"ZeroQ distils one input; the model has {len(self.inputs)}")
        dims = self.inputs[0].type.tensor_type.shape.dim
        self.input_shape = tuple(d.dim_value if d.dim_value > 0 else 1 for d in dims)
        self.outputs = [o.name for o in g.output]
        self.nodes = list(g.node)
        self.bn_nodes = [n for n in self.nodes if n.op_type == "BatchNormalization"]
        if not self.bn_nodes:
            raise McuforgeError("ZeroQ needs BatchNormalization nodes in the ONNX model: export it with "
                                "torch.onnx.export(..., dynamo=False, do_constant_folding=False)")

    def run(self, x):
        """(outputs, [(bn input, running mean, running var, eps)])"""
        torch = _torch()
        F = torch.nn.functional
        env = dict(self.consts)
        env[self.inputs[0].name] = x
        bns = []
        for n in self.nodes:
            a = _attrs(n)
            xs = [env[i] if i else None for i in n.input]
            op = n.op_type
            if op == "Conv":
                pads = a.get("pads", [0, 0, 0, 0])
                if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or pads[:2] != pads[2:]:
                    raise UnsupportedOpError(f"ZeroQ: Conv node {n.name} with asymmetric or automatic padding")
                y = F.conv2d(xs[0], xs[1], xs[2] if len(xs) > 2 else None, a.get("strides", [1, 1]),
                             pads[:2], a.get("dilations", [1, 1]), a.get("group", 1))
            elif op == "BatchNormalization":
                eps = a.get("epsilon", 1e-5)
                bns.append((xs[0], xs[3], xs[4], eps))
                y = F.batch_norm(xs[0], xs[3], xs[4], xs[1], xs[2], False, 0.0, eps)
            elif op == "Relu":
                y = F.relu(xs[0])
            elif op == "Clip":
                lo = xs[1] if len(xs) > 1 and xs[1] is not None else a.get("min", None)
                hi = xs[2] if len(xs) > 2 and xs[2] is not None else a.get("max", None)
                y = torch.clamp(xs[0], None if lo is None else float(lo), None if hi is None else float(hi))
            elif op == "LeakyRelu":
                y = F.leaky_relu(xs[0], a.get("alpha", 0.01))
            elif op == "Sigmoid":
                y = torch.sigmoid(xs[0])
            elif op in ("Add", "Sub", "Mul", "Div"):
                y = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}[op](xs[0], xs[1])
            elif op == "MaxPool":
                pads = a.get("pads", [0, 0, 0, 0])
                y = F.max_pool2d(xs[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]), pads[:2],
                                 ceil_mode=bool(a.get("ceil_mode", 0)))
            elif op == "AveragePool":
                pads = a.get("pads", [0, 0, 0, 0])
                y = F.avg_pool2d(xs[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]), pads[:2],
                                 ceil_mode=bool(a.get("ceil_mode", 0)),
                                 count_include_pad=bool(a.get("count_include_pad", 0)))
            elif op == "GlobalAveragePool":
                y = xs[0].mean(dim=(2, 3), keepdim=True)
            elif op == "Flatten":
                y = torch.flatten(xs[0], a.get("axis", 1))
            elif op == "Reshape":
                shape = [int(v) for v in xs[1].tolist()]
                shape = [xs[0].shape[i] if v == 0 else v for i, v in enumerate(shape)]
                if shape and shape[0] == 1 and xs[0].shape[0] != 1:
                    shape[0] = xs[0].shape[0]  # the exporter traced with a batch of 1
                y = xs[0].reshape(shape)
            elif op == "Transpose":
                y = xs[0].permute(*a["perm"])
            elif op == "Concat":
                y = torch.cat([v.reshape(1) if v.dim() == 0 else v for v in xs], a["axis"])
            elif op == "Unsqueeze":
                axes = a["axes"] if "axes" in a else [int(v) for v in xs[1].tolist()]
                y = xs[0]
                for ax in sorted(axes):
                    y = y.unsqueeze(ax)
            elif op == "Squeeze":
                axes = a.get("axes") or ([int(v) for v in xs[1].tolist()] if len(xs) > 1 else None)
                y = xs[0].squeeze() if axes is None else xs[0].squeeze(tuple(axes))
            elif op == "Gemm":
                A = xs[0].T if a.get("transA", 0) else xs[0]
                B = xs[1].T if a.get("transB", 0) else xs[1]
                y = a.get("alpha", 1.0) * (A @ B)
                if len(xs) > 2 and xs[2] is not None:
                    y = y + a.get("beta", 1.0) * xs[2]
            elif op == "MatMul":
                y = xs[0] @ xs[1]
            elif op == "Softmax":
                y = torch.softmax(xs[0], a.get("axis", -1))
            elif op == "Identity":
                y = xs[0]
            elif op == "Constant":
                import onnx.numpy_helper
                y = torch.from_numpy(onnx.numpy_helper.to_array(a["value"] if "value" in a else None).copy())
            elif op == "Shape":
                y = torch.tensor(list(xs[0].shape), dtype=torch.int64)
            elif op == "Gather":
                y = torch.index_select(xs[0], a.get("axis", 0), xs[1].reshape(-1).long())
                if xs[1].dim() == 0:
                    y = y.squeeze(a.get("axis", 0))
            else:
                raise UnsupportedOpError(f"ZeroQ: op {op} (node {n.name}) is not supported by its torch interpreter")
            env[n.output[0]] = y
        return [env[o] for o in self.outputs], bns


def distill(model, n: int = 64, iters: int = 300, lr: float = 0.2, seed: int = 0,
            input_range: tuple[float, float] | None = None, quiet: bool = True) -> tuple[np.ndarray, dict]:
    """n distilled inputs (float32, the model's layout, batch first) and a report
    {'seconds', 'loss_start', 'loss_end'}. input_range: clamp the inputs to a known range (pixels
    in [0, 1], say) after every step."""
    torch = _torch()
    net = TorchOnnx(model)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    shape = (n,) + net.input_shape[1:]
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    if input_range is not None:
        lo, hi = input_range
        x = (lo + hi) / 2 + x * (hi - lo) / 4
        x = x.clamp(lo, hi)
    x.requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=30)
    losses = []
    for _ in range(iters):
        opt.zero_grad()
        _, bns = net.run(x)
        loss = 0.0
        for a, mean, var, eps in bns:
            dims = [d for d in range(a.dim()) if d != 1]
            m = a.mean(dim=dims)
            s = torch.sqrt(a.var(dim=dims, unbiased=False) + eps)
            loss = loss + torch.norm(m - mean) + torch.norm(s - torch.sqrt(var + eps))
        loss.backward()
        opt.step()
        sched.step(loss.item())
        losses.append(float(loss.item()))
        if input_range is not None:
            with torch.no_grad():
                x.clamp_(*input_range)
    secs = time.perf_counter() - t0
    if not quiet:
        print(f"[zeroq] {n} inputs distilled in {secs:.1f} s, BN loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    return x.detach().numpy().astype(np.float32), {"seconds": secs, "loss_start": losses[0], "loss_end": losses[-1]}


def distill_to_file(model, path, **kw) -> dict:
    x, info = distill(model, **kw)
    np.save(Path(path), x)
    return info
