"""PyTorch modules straight from Python: export through torch's dynamo ONNX exporter into a temporary
folder and import the result, so a PyTorch user never writes an ONNX file.

torch is imported only on this path, and only if the caller already has it: an object can be a
torch.nn.Module only when torch is loaded.
"""
from __future__ import annotations

import contextlib
import io
import re
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..errors import McuforgeError


def is_torch_module(obj) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def is_torch_tensor(obj) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def to_numpy(x):
    """A torch tensor (or a list / tuple of them) as numpy; anything else unchanged."""
    if isinstance(x, (list, tuple)):
        return type(x)(to_numpy(v) for v in x)
    if is_torch_tensor(x):
        return x.detach().cpu().numpy()
    return x


def _example_tuple(example_inputs):
    import torch
    xs = example_inputs if isinstance(example_inputs, (list, tuple)) else (example_inputs,)
    out = []
    for x in xs:
        if isinstance(x, np.ndarray):
            x = torch.from_numpy(np.ascontiguousarray(x))
        if not isinstance(x, torch.Tensor):
            raise McuforgeError(f"example_inputs must be torch tensors or numpy arrays, not {type(x).__name__}")
        out.append(x.float() if x.is_floating_point() else x)
    return tuple(out)


def _root_cause(e: BaseException) -> str:
    """'Type: first line' of the innermost cause (the exporter wraps the real error in boilerplate)."""
    seen = set()
    while e.__cause__ is not None and id(e) not in seen:
        seen.add(id(e))
        e = e.__cause__
    lines = [ln.strip() for ln in re.sub(r"\x1b\[[0-9;]*m", "", str(e)).splitlines() if ln.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"


def module_name(module) -> str:
    name = re.sub(r"[^0-9a-zA-Z_]", "_", type(module).__name__).lower() or "model"
    return name if not name[0].isdigit() else "m_" + name


def load_torch(module, example_inputs, input_shapes: dict | None = None, name: str | None = None):
    """torch.nn.Module -> Graph. example_inputs: one tensor / array (batch of 1, the model's own
    layout) or a tuple of them, one per forward() argument."""
    if example_inputs is None:
        raise McuforgeError("compiling a torch.nn.Module needs example_inputs (a tensor of the input shape, "
                            "e.g. torch.randn(1, 3, 32, 32))")
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ImportError:
        raise McuforgeError("exporting a torch.nn.Module needs onnxscript: pip install onnxscript") from None
    import torch
    from .onnx import load_onnx
    args = _example_tuple(example_inputs)
    was_training = module.training
    module.eval()
    try:
        with tempfile.TemporaryDirectory(prefix="mcuforge_torch_") as tmp:
            path = Path(tmp) / "model.onnx"
            log = io.StringIO()  # the exporter prints progress and graph dumps
            try:
                with warnings.catch_warnings(), contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                    warnings.simplefilter("ignore")
                    torch.onnx.export(module, args, str(path), dynamo=True, verbose=False)
            except Exception as e:  # the exporter raises many types; one line for the user
                raise McuforgeError(f"torch.onnx.export (dynamo) failed for {type(module).__name__}: "
                                    f"{_root_cause(e)}") from None
            if not path.is_file():
                raise McuforgeError(f"torch.onnx.export (dynamo) wrote no model for {type(module).__name__}")
            return load_onnx(path, input_shapes, name=name or module_name(module))
    finally:
        module.train(was_training)
