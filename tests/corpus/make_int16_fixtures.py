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

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from make_tflite_fixtures import FIXTURES, NETWORKS, convert, keras, L, operators, randomize_bn, tf  # noqa: E402


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


def main(names):
    FIXTURES.mkdir(exist_ok=True)
    man_path = FIXTURES / "int16_manifest.json"
    manifest = json.loads(man_path.read_text()) if man_path.is_file() else {"networks": {}}
    manifest["versions"] = {"tensorflow": tf.__version__, "keras": keras.__version__}
    for name in names:
        keras.utils.set_random_seed(0)
        model = INT16_NETWORKS[name]()
        rng = np.random.default_rng(1)
        randomize_bn(model, rng)
        shape = model.inputs[0].shape[1:]
        buf = convert(model, shape, rng, int16=True)
        out = f"{name}_int16"
        (FIXTURES / f"{out}.tflite").write_bytes(buf)
        ops = operators(buf)
        manifest["networks"][out] = {"input_shape": [1] + list(shape), "ops": ops, "bytes": len(buf),
                                     "params": int(model.count_params())}
        print(f"{out:30s} {len(buf) / 1024:6.1f} KB  {' '.join(ops)}", flush=True)
    man_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:] or list(INT16_NETWORKS))
