"""A classifier head written as a convolution (a 4x4 kernel over a 4x4 map: one output pixel) with
int4 / ternary weights on Cortex-M4. Its DSP kernel's block scratch sets the arena's peak of such a
small model, and the default arena x instructions choice (codegen/c/lean.py) weighs the next
variants by codegen/c/cost.py: with the portable sub-byte kernels modelled at the portable int8
figure (8 a MAC, they take about 18) it passed the layer to the portable kernel at 8.4x int8's
instructions. Bit-exact with the golden model and within 1.3x int8 under QEMU."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.api import compile_model, simulate

from test_subbyte import _toolchain

torch = pytest.importorskip("torch")


def _head_model(path):
    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c = torch.nn.Conv2d(48, 10, 4)

        def forward(self, x):
            return self.c(x).mean((2, 3))

    torch.manual_seed(0)
    torch.onnx.export(Head().eval(), torch.randn(1, 48, 4, 4), str(path), dynamo=False)


def test_one_pixel_conv_head_keeps_its_dsp_kernel(tmp_path):
    _toolchain("mps2-an386")
    _head_model(tmp_path / "head.onnx")
    x = np.random.default_rng(0).standard_normal((8, 48, 4, 4)).astype(np.float32)
    counts = {}
    for bits in (8, 4, 2):
        out = tmp_path / f"w{bits}"
        res = compile_model(tmp_path / "head.onnx", out, target="cortex-m4", calib=x,
                            weight_bits=None if bits == 8 else bits, quiet=True)
        kernel = [l["kernel"] for l in res.info["layers"] if l["op"] == "conv2d"][0]
        if bits != 8:
            assert kernel.endswith(("_dsp", "_dsp_rdx", "_dsp_lsh", "_dsp_lss")), kernel
        y, m = simulate(out, board="mps2-an386", x=x[:1], quiet=True)
        ref, _ = simulate(out, board="reference", x=x[:1], quiet=True)
        assert np.array_equal(y, ref)
        counts[bits] = m["instructions"]
    for bits in (4, 2):
        assert counts[bits] <= 1.3 * counts[8], counts
