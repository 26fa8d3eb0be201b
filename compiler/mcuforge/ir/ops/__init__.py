"""Importing this package registers every op kind."""
from . import base, batchnorm, binary, conv2d, dense, mean, pool, quantize, shape_ops, slicing, softmax, unary  # noqa: F401
from . import activations, binary_ext, l2norm, log_softmax  # noqa: F401,E402  (elementwise ops)
from . import conv_transpose, resize  # noqa: F401,E402
from . import layernorm  # noqa: F401,E402
from . import int16_hardswish  # noqa: F401,E402  (int16 HARD_SWISH, issue 9)
from . import patch  # noqa: F401,E402  (patch-based schedule)
from . import quantmcu  # noqa: F401,E402  (QuantMCU: outlier check, dual-precision layers)
from . import train_conv, train_dense, train_elem, train_fused, train_loss, train_update  # noqa: F401,E402  (training)
from .base import OPS, get_op, infer_node, infer_shapes  # noqa: F401
