"""Keras versions of the corpus networks, converted by TensorFlow's own TFLiteConverter to full-integer
int8 .tflite files (the files are committed; TensorFlow is never a dependency of mcuforge).

Run it with a side environment that has TensorFlow:

    python -m venv /work/tfenv && /work/tfenv/bin/pip install tensorflow-cpu==2.21.*
    cd tests && /work/tfenv/bin/python corpus/make_tflite_fixtures.py [names...]

Conversion as the TFLite documentation describes full-integer quantization: Optimize.DEFAULT, a
representative dataset (64 samples), TFLITE_BUILTINS_INT8 only, int8 input and output.
Keras applications are built with weights=None (random weights from a fixed seed); every
BatchNormalization layer gets non-trivial gamma / beta / moving statistics so BN is not the identity.
Writes fixtures/NAME.tflite and fixtures/tflite_manifest.json (TF version, operators of each file).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

keras = tf.keras
L = keras.layers
FIXTURES = Path(__file__).resolve().parent / "fixtures"


# ---- hand-written Keras networks -----------------------------------------------------------------

def ds_cnn():
    """The keyword-spotting DS-CNN (49 MFCC frames x 10), Flatten head as Keras users write it."""
    x = inp = keras.Input((49, 10, 1))
    x = L.Conv2D(32, (10, 4), strides=2, padding="same", use_bias=False)(x)
    x = L.ReLU()(L.BatchNormalization()(x))
    for _ in range(4):
        x = L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = L.ReLU()(L.BatchNormalization()(x))
        x = L.Conv2D(32, 1, use_bias=False)(x)
        x = L.ReLU()(L.BatchNormalization()(x))
    x = L.AveragePooling2D(pool_size=(25, 5))(x)
    x = L.Flatten()(x)
    return keras.Model(inp, L.Dense(12)(x), name="ds_cnn")


def se_cnn():
    """SE blocks (GlobalAveragePooling -> Dense -> ReLU -> Dense -> sigmoid -> Reshape -> Multiply),
    hard-swish activations and a Flatten -> Dense head."""
    def se(x, c):
        s = L.GlobalAveragePooling2D()(x)
        s = L.Dense(max(4, c // 4), activation="relu")(s)
        s = L.Dense(c, activation="sigmoid")(s)
        s = L.Reshape((1, 1, c))(s)
        return L.Multiply()([x, s])

    x = inp = keras.Input((32, 32, 3))
    x = L.Conv2D(16, 3, strides=2, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("hard_swish")(x) if hasattr(keras.activations, "hard_swish") else L.ReLU(6.0)(x)
    for c, s in ((16, 1), (24, 2), (32, 2)):
        y = L.DepthwiseConv2D(3, strides=s, padding="same", use_bias=False)(x)
        y = L.ReLU()(L.BatchNormalization()(y))
        y = se(y, y.shape[-1])
        y = L.Conv2D(c, 1, use_bias=False)(y)
        y = L.BatchNormalization()(y)
        x = L.Add()([x, y]) if s == 1 and x.shape[-1] == c else y
    x = L.Conv2D(32, 1, activation="relu")(x)
    x = L.MaxPooling2D(2)(x)
    x = L.Flatten()(x)
    return keras.Model(inp, L.Dense(10)(x), name="se_cnn")


def unet():
    """U-Net decoder: Conv2DTranspose, UpSampling2D (nearest) / Resizing (nearest and bilinear),
    skip connections by Concatenate."""
    def dconv(x, c):
        for _ in range(2):
            x = L.Conv2D(c, 3, padding="same", use_bias=False)(x)
            x = L.ReLU()(L.BatchNormalization()(x))
        return x

    x = inp = keras.Input((32, 32, 3))
    x1 = dconv(x, 8)
    x2 = dconv(L.MaxPooling2D(2)(x1), 12)
    x3 = dconv(L.MaxPooling2D(2)(x2), 16)
    x4 = dconv(L.MaxPooling2D(2)(x3), 24)
    y = L.Conv2DTranspose(16, 2, strides=2, padding="same")(x4)
    y = dconv(L.Concatenate()([x3, y]), 16)
    y = L.Resizing(16, 16, interpolation="bilinear")(y)
    y = dconv(L.Concatenate()([x2, y]), 12)
    y = L.Resizing(32, 32, interpolation="nearest")(y)
    y = dconv(L.Concatenate()([x1, y]), 8)
    return keras.Model(inp, L.Conv2D(2, 1)(y), name="unet")


def unet_upsampling2d():
    """The same decoder with UpSampling2D, which the converter writes as a RESHAPE / TILE chain."""
    x = inp = keras.Input((16, 16, 3))
    x1 = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    x2 = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x1)
    y = L.UpSampling2D(2)(x2)
    y = L.Concatenate()([x1, y])
    return keras.Model(inp, L.Conv2D(2, 1)(y), name="unet_upsampling2d")


def resnet():
    """ResNet with basic blocks (Keras style: Add then ReLU), GlobalAveragePooling + Dense head."""
    def block(x, c, s):
        y = L.Conv2D(c, 3, strides=s, padding="same", use_bias=False)(x)
        y = L.ReLU()(L.BatchNormalization()(y))
        y = L.Conv2D(c, 3, padding="same", use_bias=False)(y)
        y = L.BatchNormalization()(y)
        if s != 1 or x.shape[-1] != c:
            x = L.BatchNormalization()(L.Conv2D(c, 1, strides=s, use_bias=False)(x))
        return L.ReLU()(L.Add()([x, y]))

    x = inp = keras.Input((32, 32, 3))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(8, 3, padding="same", use_bias=False)(x)))
    for c, s in ((8, 1), (16, 2), (32, 2)):
        x = block(x, c, s)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(10)(x), name="resnet")


# ---- Keras applications (weights=None) -----------------------------------------------------------

def app(fn, name, **kw):
    def make():
        m = fn(input_shape=(32, 32, 3), weights=None, classes=10, **kw)
        return keras.Model(m.inputs, m.outputs, name=name)
    return make


NETWORKS = {
    "keras_mobilenet_v1": app(keras.applications.MobileNet, "mobilenet_v1", alpha=0.25),
    "keras_mobilenet_v2": app(keras.applications.MobileNetV2, "mobilenet_v2", alpha=0.35),
    "keras_mobilenet_v3_small": app(keras.applications.MobileNetV3Small, "mobilenet_v3_small", alpha=0.25,
                                    minimalistic=False, include_preprocessing=False),
    "keras_ds_cnn": ds_cnn,
    "keras_se_cnn": se_cnn,
    "keras_unet": unet,
    "keras_unet_upsampling2d": unet_upsampling2d,
    "keras_resnet": resnet,
}


def randomize_bn(model, rng):
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                               rng.uniform(-0.2, 0.2, beta.shape).astype(np.float32),
                               rng.normal(0, 0.3, mean.shape).astype(np.float32),
                               rng.uniform(0.5, 2.0, var.shape).astype(np.float32)])


def convert(model, shape, rng, int16: bool = False):
    """Full-integer conversion on 64 Gaussian samples: int8 activations, or with int16 TFLite's
    16x8 scheme (int16 activations, int8 weights)."""
    calib = rng.standard_normal((64,) + tuple(shape)).astype(np.float32)

    def representative():
        for i in range(len(calib)):
            yield [calib[i:i + 1]]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    if int16:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    else:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int16 if int16 else tf.int8
    conv.inference_output_type = conv.inference_input_type
    return conv.convert()


def operators(buf: bytes) -> list[str]:
    from tensorflow.lite.python import schema_py_generated as schema
    m = schema.Model.GetRootAsModel(buf, 0)
    names = {v: k for k, v in schema.BuiltinOperator.__dict__.items() if not k.startswith("_")}
    codes = [max(m.OperatorCodes(i).BuiltinCode(), m.OperatorCodes(i).DeprecatedBuiltinCode())
             for i in range(m.OperatorCodesLength())]
    return sorted({names.get(c, str(c)) for c in codes})


def main(names, networks=NETWORKS, manifest_name="tflite_manifest.json", int16=False, suffix=""):
    """Convert networks[name] for each name to fixtures/NAME{suffix}.tflite and record it in
    fixtures/{manifest_name} (make_int16_fixtures.py calls this with its own networks)."""
    FIXTURES.mkdir(exist_ok=True)
    man_path = FIXTURES / manifest_name
    manifest = json.loads(man_path.read_text()) if man_path.is_file() else {"networks": {}}
    manifest["versions"] = {"tensorflow": tf.__version__, "keras": keras.__version__}
    for name in names:
        keras.utils.set_random_seed(0)
        model = networks[name]()
        rng = np.random.default_rng(1)
        randomize_bn(model, rng)
        shape = model.inputs[0].shape[1:]
        buf = convert(model, shape, rng, int16=int16)
        out = f"{name}{suffix}"
        (FIXTURES / f"{out}.tflite").write_bytes(buf)
        ops = operators(buf)
        manifest["networks"][out] = {"input_shape": [1] + list(shape), "ops": ops, "bytes": len(buf),
                                     "params": int(model.count_params())}
        print(f"{out:30s} {len(buf) / 1024:6.1f} KB  {' '.join(ops)}", flush=True)
    man_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:] or list(NETWORKS))
