"""On-device training graphs (issue 11, docs/training.md): a float model -> a training-step
Graph whose forward is the inference graph (float32 or int8), whose backward comes from Relax's
`Gradient` for exactly the trained tensors, and whose SGD updates are in-place nodes.

TVM is imported lazily (train/relax_import.py); nothing else in mcuforge imports this package."""
from __future__ import annotations

from .build import build_training_graph  # noqa: F401
