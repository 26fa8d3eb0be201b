"""MobileNetV2 width 0.35 at 96x96x3 (Keras application, random weights) with a classifier head of
10 logits (global average pool + dense: MEAN + FULLY_CONNECTED), converted to a full-integer int8
.tflite by TensorFlow's converter, for benchmarks/patches.py. The head ends at the logits: the
installed tflite-micro aborts while preparing the converter's int8 SOFTMAX of this model, and a
model without an oracle is no test. TensorFlow is no
dependency of mcuforge: run this in a side environment (e.g. /work/tfenv/bin/python).

    python benchmarks/make_mbv2.py [out.tflite]
"""
import sys

import numpy as np
import tensorflow as tf

tf.random.set_seed(0)
m = tf.keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, include_top=False, pooling="avg")
m = tf.keras.Sequential([m, tf.keras.layers.Dense(10)])
rng = np.random.default_rng(0)
def rep():
    for _ in range(8):
        yield [rng.uniform(-1, 1, (1, 96, 96, 3)).astype(np.float32)]
c = tf.lite.TFLiteConverter.from_keras_model(m)
c.optimizations = [tf.lite.Optimize.DEFAULT]
c.representative_dataset = rep
c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
c.inference_input_type = tf.int8
c.inference_output_type = tf.int8
open(sys.argv[1] if len(sys.argv) > 1 else "mbv2_w035_96_int8.tflite", "wb").write(c.convert())
