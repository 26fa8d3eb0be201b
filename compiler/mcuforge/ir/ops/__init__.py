"""Importing this package registers every op kind."""
from . import base, batchnorm, binary, conv2d, dense, layernorm, mean, pool, quantize, shape_ops, softmax, unary  # noqa: F401
from .base import OPS, get_op, infer_node, infer_shapes  # noqa: F401
