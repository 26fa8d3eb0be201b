"""The device is NHWC; users hand in arrays in their model's own layout (NCHW for ONNX), with or
without a sample axis. These functions move between the two using g.meta["io_perm"]."""
from __future__ import annotations

import numpy as np

from ...errors import McuforgeError
from ...ir.graph import Graph


def to_graph_layout(g: Graph, name: str, x: np.ndarray) -> np.ndarray:
    """[N, *model layout] or a single sample -> [N, *graph shape without batch]."""
    shape = g.tensors[name].shape
    perm = g.meta.get("io_perm", {}).get(name)
    user_shape = tuple(shape[i] for i in np.argsort(perm)) if perm else shape
    if x.shape == user_shape or x.shape == user_shape[1:]:
        x = x.reshape((1,) + user_shape[1:])
    elif x.shape[1:] == user_shape[1:]:
        pass
    elif x.ndim >= 1 and int(np.prod(x.shape[1:])) == int(np.prod(user_shape[1:])):
        x = x.reshape((x.shape[0],) + user_shape[1:])
    else:
        raise McuforgeError(f"input {name}: expected samples of shape {user_shape[1:]}, got array {x.shape}")
    if perm:
        x = np.transpose(x, perm)
    return np.ascontiguousarray(x.reshape((x.shape[0],) + shape[1:]))


def to_user_layout(g: Graph, name: str, y: np.ndarray) -> np.ndarray:
    """[N, *graph shape without batch] -> [N, *model layout without batch]."""
    perm = g.meta.get("io_perm", {}).get(name)
    return np.transpose(y, np.argsort(perm)) if perm else y
