"""Keras networks converted by TensorFlow's own TFLiteConverter to TFLite's 16x8 scheme (int16
activations, int8 weights, int64 biases), the files committed beside the int8 ones; TensorFlow is
never a dependency of mcuforge. Run it with the side environment that has TensorFlow:

    cd tests && /work/tfenv/bin/python corpus/make_int16_fixtures.py [names...]

Conversion as TFLite documents the 16x8 mode: Optimize.DEFAULT, a representative dataset (64
samples), supported_ops = [EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8], int16
input and output. The networks are make_tflite_fixtures.py's (same seeds, same BatchNorm
randomization) plus `mix16`, a small net that reaches the 16x8 operators the others do not
(LOGISTIC, TANH, SOFTMAX, MUL with broadcasting, CONCATENATION, PAD, TRANSPOSE_CONV, MAX_POOL_2D,
MEAN). Writes fixtures/NAME_int16.tflite and fixtures/int16_manifest.json.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_tflite_fixtures as fixtures  # noqa: E402
from make_tflite_fixtures import NETWORKS, keras, L  # noqa: E402


def mix16():
    x = inp = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = L.ZeroPadding2D(((1, 0), (0, 1)))(x)
    x = L.MaxPooling2D(2)(x)                                          # 8 x 8
    t = L.Conv2D(8, 1, activation="tanh")(x)
    s = L.GlobalAveragePooling2D(keepdims=True)(x)                    # MEAN
    s = L.Conv2D(8, 1, activation="sigmoid")(s)
    x = L.Multiply()([t, s])                                          # broadcast MUL (SE gate)
    y = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.Concatenate()([x, y])
    x = L.Conv2DTranspose(6, 3, strides=2, padding="same")(x)        # 16 x 16
    x = L.AveragePooling2D(4)(x)
    x = L.Flatten()(x)
    x = L.Dense(10)(x)
    return keras.Model(inp, L.Softmax()(x), name="mix16")


INT16_NETWORKS = {"mix16": mix16, "keras_ds_cnn": NETWORKS["keras_ds_cnn"], "keras_resnet": NETWORKS["keras_resnet"],
                  "keras_mobilenet_v1": NETWORKS["keras_mobilenet_v1"]}


if __name__ == "__main__":
    fixtures.main(sys.argv[1:] or list(INT16_NETWORKS), INT16_NETWORKS, "int16_manifest.json", int16=True,
                  suffix="_int16")
