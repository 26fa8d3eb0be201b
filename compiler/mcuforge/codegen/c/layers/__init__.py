"""Per-op C layer builders: each turns one graph node into a Layer (the kernel to call, the
constant arrays it needs, and the parameters its template renders). Importing this package
registers them all."""
from .base import BUILDERS, Layer, LayerContext, TensorRef, build_layer  # noqa: F401
from . import conv, elementwise, mean, movement, pool, slicing, softmax  # noqa: F401,E402
from . import elementwise_ext  # noqa: F401,E402
from . import upsample  # noqa: F401,E402
from . import matmul  # noqa: F401,E402
from . import quantize_io  # noqa: F401,E402
from . import int16  # noqa: F401,E402  (TFLite's 16x8 scheme)
from . import logdiv  # noqa: F401,E402  (int8 log-softmax / div, int16 hard-swish)
from . import patch  # noqa: F401,E402  (patch-based schedule)
from . import quantmcu  # noqa: F401,E402  (QuantMCU dual-precision patches)
from . import fixed  # noqa: F401,E402
from .. import variants  # noqa: F401,E402  (optimized kernel variants register themselves)
