"""mcuforge.qfx: trainable fixed point (QFX, Dai et al. 2024) in PyTorch, bit-exact with the `fixed`
golden model, exported as QONNX that `mcuforge hls / rtl / compile` read without calibration.

Every tensor (input, weights, each layer's output, residual sums, pooled values) is a fixed-point
number <W, F>: W bits given, the binary point F a trainable parameter (rounded to an integer in the
forward, gradients through a straight-through estimator, LSQ-style), rounding ``rne`` (ties to even,
AP_RND_CONV, QONNX ROUND) or ``trn`` (AP_TRN, QONNX FLOOR), saturation on overflow. The forward runs
in float64: every value is an integer times a power of two well inside 53 bits, so convolutions,
sums and casts are exact and the result equals reference/fixed_arith.py bit for bit.

    from mcuforge.quant.qfx import QfxConv2d, QfxLinear, QfxReLU, ...
    model = QfxNet(...); qfx.calibrate(model, x)   # binary points from ranges (= fixed PTQ)
    train(model); qfx.export_qonnx(model, x[:1], "m.onnx")

torch is imported here; the rest of mcuforge does not need it.
"""
from .core import FixedQuant, KHotQuant, calibrate, float_mode, frac_bits, quantizers  # noqa: F401
from .export import export_qonnx  # noqa: F401
from .layers import (QfxAdd, QfxAvgPool, QfxBatchNorm2d, QfxConcat, QfxConv2d, QfxFlatten,  # noqa: F401
                     QfxHardswish, QfxInput, QfxLinear, QfxMaxPool, fold_batchnorm)
