"""TensorFlow's own converter writing INT4 weights (TensorType 17): a tf.Module whose conv,
depthwise and dense weights pass through fake_quant with num_bits=4, narrow_range=True, converted
with `_experimental_low_bit_qat = True` (TF 2.21: the converter then stores those weights as packed
INT4 in [-7, 7]). Conv and depthwise weights are per channel, the dense one per tensor (the
installed tflite-micro refuses per-channel INT4 FULLY_CONNECTED). The file is committed;
TensorFlow is never a dependency:

    cd tests && /work/tfenv/bin/python corpus/make_int4_fixture.py   # writes fixtures/tf_int4_qat.tflite
"""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = Path(__file__).resolve().parent / "fixtures" / "tf_int4_qat.tflite"


def fq4(w, axis_max):
    return tf.quantization.fake_quant_with_min_max_vars_per_channel(
        tf.constant(w), -axis_max, axis_max, num_bits=4, narrow_range=True)


def main():
    rng = np.random.default_rng(0)
    w1 = rng.normal(0, 0.3, (3, 3, 3, 8)).astype(np.float32)        # HWIO
    w2 = rng.normal(0, 0.3, (3, 3, 8, 1)).astype(np.float32)        # depthwise HW C 1
    w3 = rng.normal(0, 0.2, (4 * 4 * 8, 10)).astype(np.float32)
    b1, b2, b3 = (rng.normal(0, 0.1, n).astype(np.float32) for n in (8, 8, 10))

    class Net(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32)])
        def __call__(self, x):
            x = tf.quantization.fake_quant_with_min_max_vars(x, -1.0, 1.0)
            y = tf.nn.relu(tf.nn.conv2d(x, fq4(w1, np.abs(w1).max((0, 1, 2))), 1, "SAME") + b1)
            y = tf.quantization.fake_quant_with_min_max_vars(y, 0.0, 3.0)
            wd = fq4(w2.transpose(0, 1, 3, 2), np.abs(w2).max((0, 1, 3)))  # per channel on the last axis
            y = tf.nn.depthwise_conv2d(y, tf.transpose(wd, (0, 1, 3, 2)), (1, 2, 2, 1), "SAME") + b2
            y = tf.quantization.fake_quant_with_min_max_vars(y, -3.0, 3.0)
            m = float(np.abs(w3).max())
            wf = tf.quantization.fake_quant_with_min_max_vars(tf.constant(w3), -m, m, num_bits=4, narrow_range=True)
            z = tf.matmul(tf.reshape(y, (1, -1)), wf) + b3
            return tf.quantization.fake_quant_with_min_max_vars(z, -4.0, 4.0)

    net = Net()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([net.__call__.get_concrete_function()], net)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv._experimental_low_bit_qat = True
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    OUT.write_bytes(conv.convert())
    print(f"wrote {OUT} (TensorFlow {tf.__version__})")


if __name__ == "__main__":
    main()
