"""Writes the QONNX fixtures of tests/test_qonnx_import.py: two Brevitas 0.13.4 models trained for a
few epochs on scikit-learn's 8x8 digits and exported with brevitas.export.export_qonnx, plus, for
each, test inputs and Brevitas's own outputs (the oracle the tests compare with).

    pip install brevitas==0.13.4 qonnx==1.0.0 onnxoptimizer   # the test extra has them
    python tests/qonnx_fixtures/make_fixtures.py

pot_cnn:   power-of-two scales everywhere (Brevitas *FixedPoint quantizers): 8-bit input, conv with
           4-bit weights + 16-bit bias, unsigned 6-bit ReLU, max pool, depthwise conv with 5-bit
           per-channel weights, unsigned 8-bit ReLU, linear with 6-bit weights, 8-bit output.
float_mlp: arbitrary (float) scales: 8-bit input, 4-bit weights, unsigned 4-bit ReLU, 8-bit
           per-channel weights, 8-bit output.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "fpga"))


def pot_cnn():
    import brevitas.nn as qnn
    from brevitas.quant import (Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Int16Bias,
                                Uint8ActPerTensorFixedPoint)
    return nn.Sequential(
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=8, return_quant_tensor=True),
        qnn.QuantConv2d(1, 8, 3, padding=1, weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=4,
                        bias=True, bias_quant=Int16Bias, return_quant_tensor=True),
        qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=6, return_quant_tensor=True),
        nn.MaxPool2d(2),
        qnn.QuantConv2d(8, 8, 3, padding=1, groups=8, weight_quant=Int8WeightPerTensorFixedPoint,
                        weight_scaling_per_output_channel=True, weight_bit_width=5, bias=False, return_quant_tensor=True),
        qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=8, return_quant_tensor=True),
        nn.Flatten(),
        qnn.QuantLinear(8 * 4 * 4, 10, weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=6,
                        bias=True, bias_quant=Int16Bias, return_quant_tensor=True),
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=8, return_quant_tensor=False))


def float_mlp():
    import brevitas.nn as qnn
    from brevitas.quant import (Int8ActPerTensorFloat, Int8WeightPerChannelFloat, Int8WeightPerTensorFloat,
                                Uint8ActPerTensorFloat)
    return nn.Sequential(
        nn.Flatten(),
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8, return_quant_tensor=True),
        qnn.QuantLinear(64, 32, weight_quant=Int8WeightPerTensorFloat, weight_bit_width=4, bias=True,
                        return_quant_tensor=True),
        qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=4, return_quant_tensor=True),
        qnn.QuantLinear(32, 10, weight_quant=Int8WeightPerChannelFloat, weight_bit_width=8, bias=True,
                        return_quant_tensor=True),
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8, return_quant_tensor=False))


def main():
    import fpga_models
    from brevitas.export import export_qonnx
    xtr, ytr, xte, yte = fpga_models.digits()
    for name, make in (("pot_cnn", pot_cnn), ("float_mlp", float_mlp)):
        torch.manual_seed(0)
        model = fpga_models.train(make(), xtr, ytr, epochs=6)
        x = xte[:32]
        with torch.no_grad():
            y = model(torch.from_numpy(x)).numpy()
        acc = float((model(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean())
        path = HERE / f"{name}.onnx"
        export_qonnx(model, torch.from_numpy(x[:1]), export_path=str(path))
        import onnx
        proto = onnx.load(str(path))  # one self-contained file, without the exporter's side file
        Path(str(path) + ".data").unlink(missing_ok=True)
        for n in proto.graph.node:
            n.ClearField("metadata_props")
        onnx.save(proto, str(path))
        np.savez(HERE / f"{name}.npz", x=x, y_brevitas=y)
        print(f"{name}: test accuracy {acc:.3f}")


if __name__ == "__main__":
    main()
