"""Inference BatchNormalization over the last (channel) axis. Passes fold it into the producing
conv/dense, or turn it into a 1x1 depthwise convolution; it never reaches the device."""
import numpy as np

from .base import OpDef, register


def bn_scale_shift(gamma, beta, mean, var, eps):
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    return scale, beta.astype(np.float64) - mean.astype(np.float64) * scale


@register
class BatchNorm(OpDef):
    name = "batchnorm"
    attrs = {"epsilon": 1e-5}

    def infer(self, node, ins):
        return [(ins[0].shape, ins[0].dtype)]

    def run_float(self, node, xs):
        x, gamma, beta, mean, var = xs
        scale, shift = bn_scale_shift(gamma, beta, mean, var, node.attrs["epsilon"])
        return [(x * scale + shift).astype(np.float32)]
