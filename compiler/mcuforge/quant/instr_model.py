"""Per-kernel instruction models for the bit allocation's instruction budget.

For each C kernel a layer can lower to (the kernel names of the per-layer report, e.g.
mcf_conv2d_s8_w4, and for convolutions the window) a linear model of the kernel call's executed
instructions (QEMU, counted per call: sim/layer_counts.py) in single-layer models of ~150 shapes:

    instructions = sum of c_f * f over the features f of layer_features (FEATURES: per call, MACs,
                   outputs, inputs, window gathers, pixels, channels, weights, padded blocked MACs)

each key on the subset (FORMS) that predicts its probes best when each is left out. Coefficients
are non-negative least squares (scipy.optimize.nnls). They live as TOML data in
targets/instr_models/<core>.toml (the probes' counts in <core>.points.json) and are refitted by

    PYTHONPATH=compiler python -m mcuforge.quant.instr_model --core cortex-m4 --board mps2-an386
    (--cached: refit from the stored counts, no QEMU)

The layers without weights are not modelled: an instruction budget is checked against one QEMU
run of the 8-bit model (the part no width changes = measured total - the models' 8-bit layers).
"""
from __future__ import annotations

import argparse
import tempfile
import tomllib
from pathlib import Path

import numpy as np

from ..errors import McuforgeError
from ..ir.graph import Graph, Node
from ..ir.ops import infer_shapes
from ..ir.tensor import Tensor

FEATURES = ("const", "macs", "outputs", "inputs", "patches", "pixels", "channels", "weights", "macs_pad", "narrow",
            "rows", "border", "strided", "valid")
# the model forms a key's fit chooses from (the one whose probes, each left out in turn, are
# predicted best by the others' fit): few probes cannot carry every feature
FORMS = {
    "loops": ("const", "macs_pad", "outputs", "pixels", "channels", "weights", "narrow"),
    "gather": ("const", "macs_pad", "outputs", "patches", "pixels", "inputs"),
    "rows": ("const", "macs_pad", "outputs", "weights", "rows", "border"),
    "window": ("const", "macs_pad", "outputs", "patches", "rows", "border", "channels"),
    "planes": ("const", "macs_pad", "outputs", "inputs", "channels", "narrow"),
    "strided": ("const", "macs_pad", "outputs", "inputs", "channels", "narrow", "strided"),
    "taps": ("const", "valid", "outputs", "inputs", "channels", "macs_pad"),
    "compact": ("const", "macs_pad", "outputs", "pixels"),
    "narrow": ("const", "macs_pad", "outputs", "narrow"),
    "minimal": ("const", "macs_pad", "outputs"),
    "all": FEATURES,
}
# a kernel key reached by fewer probes gets no model of its own (one or two points fit any
# coefficients exactly and say nothing about other shapes): it borrows its sibling's (predict)
MIN_POINTS = 3

# single-layer probes per kernel kind: (kind, H, W, Cin, Cout, K, stride[, mode]); K is the
# window (an int: KxK, or (KH, KW)); a depthwise probe with Cout = m Cin has depth multiplier m.
# Every kernel key (kernel_key) the layers of real models reach at 8 / 4 / 2 bits wants probes of its
# own: the window decides the path through a kernel (the 3x3 depthwise kernels take 3x3 / multiplier
# 1 only, 5x5 / 7x7 / multiplier 2 run the general DSP / Helium ones). Some kernels are chosen by
# the layer's requantization, not its shape; a mode steers a probe there:
#   "rsh": a large positive bias widens the output range, so every channel's multiplier is below
#          1/2 (a right shift): the right-shift-only sub-byte kernels (`_dsp`, `_dsp_gen`), which
#          the narrow-output probes miss at 2 bits (their ternary multipliers reach 1/2);
#   "lsh": a negative bias clips most outputs at 0 (the fused ReLU), so multipliers are >= 1/2:
#          the left-shift kernels (`_dsp_lsh`, `_dsp_gen_lsh`) and, at 8 bits, int8 layers the DSP
#          kernels refuse (dsp_requant_ok) on the tuned portable ones;
#   "double": compiled with TFLite's double rounding (a .tflite float model's default), under
#          which the left-shift sub-byte convolutions are `_dsp_lsh` (`_dsp_lss` under single);
#   "portable": compiled with the DSP / Helium variants removed: the tuned portable kernels
#          (`_fast`) that real layers reach where the DSP kernels' bounds fail (MobileNet v1 / v3's
#          small layers), which no random probe hits.
PROBES = [
    ("conv", 8, 8, 4, 8, 3, 1), ("conv", 12, 12, 8, 16, 3, 1), ("conv", 16, 16, 3, 8, 3, 2),
    ("conv", 10, 10, 16, 16, 3, 1), ("conv", 6, 6, 32, 24, 3, 1),
    ("conv", 14, 14, 1, 8, 3, 1), ("conv", 10, 10, 1, 16, 3, 1), ("conv", 8, 8, 1, 4, 3, 1),
    ("conv", 16, 16, 1, 8, 3, 2), ("conv", 12, 12, 1, 12, 3, 1), ("conv", 20, 20, 1, 4, 3, 1),
    ("conv", 7, 7, 32, 10, 4, 1), ("conv", 4, 4, 48, 10, 4, 1), ("conv", 5, 5, 16, 8, 4, 1),
    # DS-CNN's first layer (KWS, mlperf-tiny): one input channel, a 10x4 window, stride 2
    ("conv", 49, 10, 1, 32, (10, 4), 2), ("conv", 25, 10, 1, 16, (10, 4), 2), ("conv", 20, 8, 1, 8, (10, 4), 1),
    ("conv", 49, 10, 1, 64, (10, 4), 2), ("conv", 32, 8, 1, 24, (10, 4), 2),
    ("pointwise", 8, 8, 16, 16, 1, 1), ("pointwise", 12, 12, 8, 32, 1, 1), ("pointwise", 6, 6, 48, 24, 1, 1),
    ("pointwise", 16, 16, 4, 8, 1, 1),
    # many input channels: every channel's multiplier below 1/2, the right-shift-only kernels
    ("pointwise", 4, 4, 96, 32, 1, 1), ("pointwise", 8, 8, 64, 24, 1, 1),
    ("pointwise", 6, 6, 128, 16, 1, 1), ("pointwise", 2, 2, 144, 48, 1, 1),
    # double rounding
    ("pointwise", 8, 8, 16, 16, 1, 1, "double"), ("pointwise", 12, 12, 8, 32, 1, 1, "double"),
    ("pointwise", 16, 16, 4, 8, 1, 1, "double"), ("pointwise", 24, 24, 8, 16, 1, 1, "double"),
    ("pointwise", 6, 6, 64, 64, 1, 1, "double"), ("conv", 14, 14, 1, 8, 3, 1, "double"),
    ("conv", 10, 10, 1, 16, 3, 1, "double"), ("conv", 8, 8, 1, 4, 3, 1, "double"),
    ("depthwise", 12, 12, 8, 8, 3, 1), ("depthwise", 16, 16, 16, 16, 3, 1), ("depthwise", 8, 8, 32, 32, 3, 2),
    ("depthwise", 10, 10, 24, 24, 3, 1), ("depthwise", 14, 14, 16, 16, 3, 2), ("depthwise", 10, 10, 8, 8, 3, 2),
    # 5x5 / 7x7 (MNASNet, MobileNetV3, EfficientNet), stride 1 and 2
    ("depthwise", 12, 12, 16, 16, 5, 1), ("depthwise", 8, 8, 48, 48, 5, 1), ("depthwise", 16, 16, 24, 24, 5, 2),
    ("depthwise", 4, 4, 96, 96, 5, 1), ("depthwise", 10, 10, 16, 16, 7, 1), ("depthwise", 8, 8, 32, 32, 7, 1),
    ("depthwise", 14, 14, 16, 16, 7, 2),
    # depth multiplier 2
    ("depthwise", 12, 12, 8, 16, 3, 1), ("depthwise", 8, 8, 24, 48, 3, 1), ("depthwise", 16, 16, 8, 16, 3, 2),
    ("depthwise", 10, 10, 8, 16, 5, 1), ("depthwise", 6, 6, 24, 48, 5, 1), ("depthwise", 12, 12, 8, 16, 5, 2),
    # the same shapes with every multiplier below 1/2, and with multipliers >= 1/2
    ("depthwise", 12, 12, 8, 8, 3, 1, "rsh"), ("depthwise", 10, 10, 24, 24, 3, 1, "rsh"),
    ("depthwise", 14, 14, 16, 16, 3, 2, "rsh"), ("depthwise", 12, 12, 8, 16, 3, 1, "rsh"),
    ("depthwise", 8, 8, 24, 48, 3, 1, "rsh"), ("depthwise", 16, 16, 8, 16, 3, 2, "rsh"),
    ("depthwise", 10, 10, 16, 32, 3, 1, "rsh"), ("depthwise", 6, 6, 32, 64, 3, 2, "rsh"),
    ("depthwise", 12, 12, 16, 16, 5, 1, "rsh"), ("depthwise", 8, 8, 48, 48, 5, 1, "rsh"),
    ("depthwise", 16, 16, 24, 24, 5, 2, "rsh"),
    ("depthwise", 1, 1, 144, 144, 5, 1, "rsh"), ("depthwise", 2, 2, 72, 72, 5, 2, "rsh"),
    ("depthwise", 12, 12, 8, 8, 3, 1, "lsh"), ("depthwise", 10, 10, 24, 24, 3, 1, "lsh"),
    ("depthwise", 14, 14, 16, 16, 3, 2, "lsh"),
    ("depthwise", 6, 6, 128, 128, 3, 1, "lsh"), ("depthwise", 3, 3, 256, 256, 3, 1, "lsh"),
    ("depthwise", 24, 24, 32, 32, 3, 1, "lsh"), ("depthwise", 12, 12, 64, 64, 3, 2, "lsh"),
    ("depthwise", 6, 6, 128, 128, 3, 1, "rsh"), ("depthwise", 2, 2, 64, 64, 3, 1, "rsh"),
    ("depthwise", 24, 24, 32, 32, 3, 1, "rsh"), ("depthwise", 2, 2, 144, 144, 3, 1, "rsh"),
    ("depthwise", 8, 8, 64, 64, 3, 1, "rsh"),
    ("dense", 1, 1, 64, 10, 1, 1), ("dense", 1, 1, 256, 32, 1, 1), ("dense", 1, 1, 128, 64, 1, 1),
    ("dense", 1, 1, 512, 16, 1, 1), ("dense", 1, 1, 640, 128, 1, 1), ("dense", 1, 1, 32, 12, 1, 1),
    # the shapes of real layers the small probes above extrapolate to badly: many pixels and few
    # channels (a network's first layers), few pixels and many channels (its last), stride 2
    ("conv", 32, 32, 16, 16, 3, 1), ("conv", 8, 8, 64, 64, 3, 1), ("conv", 48, 48, 3, 8, 3, 2),
    ("conv", 16, 16, 16, 32, 3, 2), ("conv", 32, 32, 3, 16, 3, 1),
    ("pointwise", 24, 24, 8, 16, 1, 1), ("pointwise", 3, 3, 128, 256, 1, 1), ("pointwise", 6, 6, 128, 128, 1, 1),
    ("pointwise", 12, 12, 32, 64, 1, 1), ("pointwise", 16, 16, 16, 32, 1, 2), ("pointwise", 1, 1, 256, 64, 1, 1),
    # input channels not a multiple of 16: Helium gathers every pixel (mcf_conv2d_s8_mve.c: patch())
    ("pointwise", 8, 8, 24, 8, 1, 1), ("pointwise", 10, 10, 40, 24, 1, 1), ("pointwise", 4, 4, 72, 24, 1, 1),
    ("pointwise", 16, 16, 24, 24, 1, 1),
    ("depthwise", 32, 32, 8, 8, 3, 1), ("depthwise", 32, 32, 16, 16, 3, 2), ("depthwise", 6, 6, 128, 128, 3, 1),
    ("depthwise", 3, 3, 256, 256, 3, 1), ("depthwise", 6, 6, 128, 128, 3, 2), ("depthwise", 24, 24, 32, 32, 3, 1),
    ("dense", 1, 1, 1024, 16, 1, 1), ("dense", 1, 1, 128, 128, 1, 1), ("dense", 1, 1, 16, 64, 1, 1),
    # depthwise layers of one or two output columns (the DSP 3x3 kernel runs those in C)
    ("depthwise", 2, 2, 144, 144, 3, 2), ("depthwise", 2, 2, 64, 64, 3, 1), ("depthwise", 4, 4, 32, 32, 3, 2),
    ("depthwise", 2, 2, 72, 72, 5, 2), ("depthwise", 1, 1, 144, 144, 5, 1), ("depthwise", 4, 4, 40, 40, 5, 1),
    # one-pixel 1x1 convolutions (MobileNetV3's / EfficientNet's squeeze-excite), and 1x1 ones with
    # multipliers >= 1/2 (the left-shift sub-byte kernels, `_lss` under single rounding)
    ("pointwise", 1, 1, 8, 8, 1, 1), ("pointwise", 1, 1, 16, 64, 1, 1), ("pointwise", 1, 1, 96, 24, 1, 1),
    ("pointwise", 1, 1, 24, 96, 1, 1),
    ("pointwise", 8, 8, 16, 16, 1, 1, "lsh"), ("pointwise", 4, 4, 32, 64, 1, 1, "lsh"),
    ("pointwise", 1, 1, 16, 64, 1, 1, "lsh"), ("pointwise", 12, 12, 8, 24, 1, 1, "lsh"),
    # keys with three probes before: 7x7 depthwise, 4x4 convolutions, multiplier-2 5x5 depthwise
    ("depthwise", 6, 6, 64, 64, 7, 1), ("depthwise", 12, 12, 24, 24, 7, 2), ("depthwise", 4, 4, 96, 96, 7, 1),
    ("conv", 8, 8, 16, 16, 4, 1), ("conv", 6, 6, 64, 10, 4, 1), ("conv", 12, 12, 8, 8, 4, 2),
    ("depthwise", 8, 8, 16, 32, 5, 1), ("depthwise", 4, 4, 48, 96, 5, 1), ("depthwise", 16, 16, 8, 16, 5, 2),
    # the tuned portable kernels
    ("pointwise", 2, 2, 32, 64, 1, 1, "portable"), ("pointwise", 1, 1, 72, 24, 1, 1, "portable"),
    ("pointwise", 4, 4, 24, 48, 1, 1, "portable"),
    ("depthwise", 4, 4, 32, 32, 3, 2, "portable"), ("depthwise", 6, 6, 16, 16, 3, 1, "portable"),
    ("depthwise", 2, 2, 64, 64, 3, 1, "portable"),
    ("depthwise", 3, 3, 48, 48, 5, 1, "portable"), ("depthwise", 6, 6, 16, 16, 5, 1, "portable"),
    ("depthwise", 4, 4, 24, 24, 5, 2, "portable"),
    ("pointwise", 6, 6, 16, 32, 1, 1, "portable"), ("pointwise", 1, 1, 128, 32, 1, 1, "portable"),
    ("depthwise", 8, 8, 16, 16, 3, 1, "portable"), ("depthwise", 8, 8, 32, 32, 5, 2, "portable"),
    ("depthwise", 1, 1, 96, 96, 3, 1, "portable"),
]


def models_dir() -> Path:
    from ..resources import targets
    return targets() / "instr_models"


def kernel_key(row: dict) -> str:
    """The model's key: the kernel's name, and for convolutions the window (a 1x1 and a 3x3
    convolution take different paths through the same kernel)."""
    return row["kernel"] + (f"/{row['window']}" if row.get("window") else "")


def annotate_rows(g, rows: list[dict]) -> list[dict]:
    """Add the window (KHxKW) of each conv2d to its report row."""
    for r in rows:
        n = g.nodes.get(r["name"]) if hasattr(g, "nodes") else None
        if n is not None and n.op == "conv2d":
            kh, kw = g.tensors[n.inputs[1]].shape[1:3]
            r["window"] = f"{kh}x{kw}"
    return rows


def _round_up(n: float, m: int) -> float:
    return float(-(-int(n) // m) * m)


def layer_features(row: dict) -> np.ndarray:
    """The model's features (FEATURES) of one row of the per-layer report (report.layers.layer_table,
    annotated with the window): terms that follow the kernels' loops.
      const: per call; macs; outputs (per output element: the requantization); inputs (a pass over
      the input: the depthwise planes, zero-point fills); patches = pixels x K (the im2col / window
      gather per output pixel, K = MACs per output element); pixels (output pixels: per-pixel
      set-up); channels (output channels: per-channel constants); weights = Cout x K (the
      sub-byte kernels unpack their weights once per call, or per channel block);
      macs_pad: the MACs the kernel's blocked loops execute, padding included: on the DSP kernels
      (`_dsp`) two pixels x two channels per step with each of the KH window rows padded to 4
      values (mcf_conv2d_s8_dsp.c's segments); on Helium (`_mve`) two pixels x four channels with K
      padded to 16 (mcf_conv2d_s8_mve.c); depthwise: output rows in blocks of 3 pixels x 4 channels
      (mcf_depthwise_conv2d_s8_mve_ch.c), 6 pixels x 4-channel planes (the DSP 3x3 kernels),
      2 x 2 (the other DSP ones); otherwise the MACs;
      narrow: the MACs of an output narrower than 3 columns (0 otherwise: the DSP convolution runs
      those one pixel at a time), on the DSP 3x3 depthwise kernel the MACs it runs in C;
      rows = pixels x KH (the window rows a gather copies per output pixel: vector copies of KW x Cin
      bytes on Helium), border = the same for the rows gathered the slow way: the output pixels
      whose window meets the padding (between fills of the zero point; the stride and a centred
      padding from the shapes), every pixel of a convolution whose window rows are not whole
      vectors / words (mcf_conv2d_s8_mve.c: patch());
      strided: the padded MACs of a layer of stride 2 or more (the DSP 3x3 depthwise kernel's
      stride-2 blocks are other loops); valid: the MACs of the window taps inside the input."""
    out, inp = row["out_shape"], row["in_shape"]
    cout = float(out[-1])
    px = float(np.prod(out[1:-1])) if len(out) > 2 else 1.0
    macs = float(row["macs"])
    k = macs / max(px * cout, 1.0)
    kernel = row["kernel"]
    mve, dsp = "_mve" in kernel, "_dsp" in kernel
    c_path = None                 # the MACs the DSP 3x3 depthwise kernel runs in C
    if "depthwise" in kernel and len(out) == 4:
        # rows of pixels in blocks along the row: 3 (Helium), 6 (the DSP 3x3 kernels), 2 (other DSP);
        # channels in groups of 4 (Helium, DSP 3x3 planes) or 2 (DSP planes)
        three = row.get("window") == "3x3"
        pw, cg = (3, 4) if mve else (6, 4) if dsp and three else (2, 2) if dsp else (1, 1)
        macs_pad = out[1] * _round_up(out[2], pw) * _round_up(cout, cg) * k
        if dsp and three and "_gen" not in kernel:
            # mcf_depthwise_conv2d_s8_dsp3x3.c (the sub-byte `_dsp` 3x3 kernels run it): full
            # columns of 6-output blocks; a partial last column as whole blocks on all rows but the
            # last, whose outputs (all of a layer under 3 columns or of one row) run in C
            oh, ow = int(out[1]), int(out[2])
            nfull, rem = divmod(ow, 6)
            blocks, in_c = oh * nfull, 0
            if rem and oh > 1 and ow >= 3:
                blocks, in_c = blocks + oh - 1, rem
            elif rem:
                in_c = oh * rem
            macs_pad = 6 * blocks * _round_up(cout, cg) * k
            c_path = in_c * cout * k
    elif mve:
        macs_pad = _round_up(px, 2) * _round_up(cout, 4) * _round_up(k, 16)
    elif dsp:
        kh = int(row["window"].split("x")[0]) if row.get("window") else 1
        macs_pad = _round_up(px, 2) * _round_up(cout, 2) * kh * _round_up(k / kh, 4)
    else:
        macs_pad = macs
    narrow = macs if len(out) == 4 and out[2] < 3 else 0.0
    if c_path is not None:
        narrow = c_path
    rows = border = 0.0
    valid = macs
    if len(out) == 4:
        kh, kw = (int(v) for v in row["window"].split("x")) if row.get("window") else (1, 1)
        inner = taps = 1.0
        for o, i, kk in ((out[1], inp[1], kh), (out[2], inp[2], kw)):
            s = max(1, -(-i // o)) if o > 1 else 1                     # the stride, from the shapes
            pad = max(0, ((o - 1) * s + kk - i) // 2)                   # leading padding, 'same'-like
            inner *= sum(1 for y in range(o) if y * s - pad >= 0 and y * s - pad + kk <= i)
            taps *= sum(min(y * s - pad + kk, i) - max(y * s - pad, 0) for y in range(o))
        valid = macs * taps / max(px * kh * kw, 1.0)        # the MACs of taps inside the input
        rows, border = px * kh, (px - inner) * kh
        if "depthwise" not in kernel:
            # the convolutions copy a window row KW x Cin bytes at once only when it is whole
            # vectors (Helium; or whole words under 16 bytes) / whole words (DSP): else every
            # pixel's rows take the slow path
            rb = kw * int(inp[-1])
            if not (rb % (16 if mve else 4) == 0 or (mve and rb % 4 == 0 and rb < 16)):
                border = rows
    strided = macs_pad if len(out) == 4 and out[2] > 1 and inp[2] >= 2 * out[2] else 0.0
    return np.array([1.0, macs, px * cout, float(np.prod(inp)), px * k, px, cout, cout * k, macs_pad, narrow,
                     rows, border, strided, valid])


class InstrModel:
    def __init__(self, core: str, coefs: dict[str, np.ndarray], meta: dict | None = None,
                 max_rel_err: dict[str, float] | None = None):
        self.core, self.coefs, self.meta = core, coefs, meta or {}
        self.max_rel_err = max_rel_err or {}      # per kernel key: the fit's largest relative error on its probes
        self.points: dict[str, int] = {}           # per kernel key: its probes
        self.loo_rel_err: dict[str, float] = {}   # per kernel key: leaving one probe out, its largest error
        self.borrowed: set = set()
        self.form: dict[str, str] = {}             # per kernel key: the model form (FORMS) its fit chose

    def predict(self, row: dict) -> float:
        k = kernel_key(row)
        if k not in self.coefs:
            alt = self.sibling(k)
            if alt:
                self.borrowed.add((k, alt))
                k = alt
        if k not in self.coefs:
            raise McuforgeError(f"no instruction model for kernel {k} on {self.core} "
                                f"(targets/instr_models/{self.core}.toml; refit with python -m mcuforge.quant.instr_model)")
        return float(layer_features(row) @ self.coefs[k])

    def sibling(self, k: str) -> str | None:
        """The model a kernel key without probes of its own borrows: the same op, width and window.
        The keys the probes cannot reach are selected by the layer's parameters, not its shape:
          - `_lsh` / `_lss` (some channel's multiplier >= 1/2; `_lsh` convolutions under TFLite's
            double rounding, e.g. a .tflite float model) and their right-shift-only forms: the
            name without its last suffix first (w4_dsp_lsh -> w4_dsp). The probes' modes fit both
            forms of the depthwise kernels, which differ (M4, 12x12, 8 -> 16 channels, 3x3: ternary
            `_dsp_gen` 79 k, `_dsp_gen_lsh` 94 k instructions; 3x3 multiplier 1: `_dsp` 26.6 k,
            `_dsp_lsh` 25.5 k), so a borrowed one may be off by that much;
          - the one-plane DSP depthwise (dsp, dsp3x3_1) beside the two / four-plane forms: the same
            loop per channel, ~2-4 % more instructions;
          - the portable kernel (`mcf_conv2d_s8_w2`: the accumulator bound of `_fast` fails, e.g.
            MobileNetV3's squeeze-excite convolutions on one pixel) borrows `_fast`, which it is
            slower than (not acceptable for a large layer; these are one-pixel layers);
          - else the first sibling by name (a kernel added after the fit)."""
        import re
        base, _, window = k.partition("/")
        suffix = f"/{window}" if window else ""
        stem = base
        while "_" in stem:                     # drop the last suffix until a fitted kernel remains
            stem = stem.rsplit("_", 1)[0]
            if stem + suffix in self.coefs and re.search(r"_s8(?:_w[24])?$", stem) is None:
                return stem + suffix
            if re.search(r"_s8(?:_w[24])?$", stem):
                break
        family = re.match(r"^(mcf_[a-z0-9_]+?_s8(?:_w[24])?)(?:_|$)", base)
        if not family:
            return None
        sibs = sorted(c for c in self.coefs if c.partition("/")[2] == window
                      and re.match(re.escape(family.group(1)) + r"(?:_(?!w[24])|$)", c.partition("/")[0]))
        if base == family.group(1) and family.group(1) + "_fast" + suffix in sibs:
            return family.group(1) + "_fast" + suffix
        return sibs[0] if sibs else None


def load_instr_model(core: str, path: Path | None = None) -> InstrModel:
    path = Path(path) if path else models_dir() / f"{core}.toml"
    if not path.is_file():
        have = sorted(p.stem for p in models_dir().glob("*.toml"))
        raise McuforgeError(f"no instruction models for {core}: {path} is missing (fit them with python -m "
                            f"mcuforge.quant.instr_model --core {core}; --instr-budget works today on "
                            f"{', '.join(have) or 'no core'})")
    data = tomllib.loads(path.read_text())
    kernels = data.get("kernels", {})
    coefs = {k: np.array([v.get(f, 0.0) for f in FEATURES], np.float64) for k, v in kernels.items()}
    model = InstrModel(core, coefs, data.get("fit", {}), {k: float(v.get("max_rel_err", np.nan)) for k, v in kernels.items()})
    model.points = {k: int(v.get("points", 0)) for k, v in kernels.items()}
    model.loo_rel_err = {k: float(v.get("loo_rel_err", np.nan)) for k, v in kernels.items()}
    model.form = {k: v.get("form", "all") for k, v in kernels.items()}
    return model


PROBE_MODES = (None, "rsh", "lsh", "double", "portable")
PROBE_BIAS = {"rsh": 3.0, "lsh": -1.5}      # added to every output channel's bias (the input is N(0, 1))


def probe_graph(kind: str, h: int, w: int, cin: int, cout: int, k, stride: int, mode: str | None = None,
                seed: int = 0) -> Graph:
    """The single-layer float model of one probe (PROBES): k is KxK or (KH, KW); a depthwise probe
    has groups = Cin and Cout = m Cin output channels (depth multiplier m); mode (PROBES) shifts the
    bias ("rsh", "lsh")."""
    if mode not in PROBE_MODES:
        raise McuforgeError(f"probe mode must be one of {PROBE_MODES}, not {mode!r}")
    rng = np.random.default_rng(seed)
    kh, kw = (k, k) if isinstance(k, int) else k
    name = f"probe_{kind}_{h}x{w}x{cin}_{cout}_k{kh}" + (f"x{kw}" if kw != kh else "") + f"s{stride}"
    g = Graph(name + (f"_{mode}" if mode else ""))
    if kind == "dense":
        g.add_tensor(Tensor("x", (1, cin), "float32"))
        wt = g.const("w", rng.standard_normal((cout, cin)).astype(np.float32) * 0.1, "float32")
        b = g.const("b", rng.standard_normal(cout).astype(np.float32) * 0.1, "float32")
        node = Node("fc", "dense", ["x", wt.name, b.name], ["y"], {"act_min": None, "act_max": None})
    else:
        groups = cin if kind == "depthwise" else 1
        if cout % groups:
            raise McuforgeError(f"probe {name}: {cout} output channels are not a multiple of {groups} groups")
        g.add_tensor(Tensor("x", (1, h, w, cin), "float32"))
        wt = g.const("w", rng.standard_normal((cout, kh, kw, cin // groups)).astype(np.float32) * 0.2, "float32")
        b = g.const("b", (rng.standard_normal(cout) * 0.1 + PROBE_BIAS.get(mode, 0.0)).astype(np.float32), "float32")
        ph, pw = kh // 2, kw // 2
        node = Node("conv", "conv2d", ["x", wt.name, b.name], ["y"],
                    {"strides": (stride, stride), "dilations": (1, 1), "pads": (ph, pw, kh - 1 - ph, kw - 1 - pw),
                     "groups": groups, "act_min": 0.0, "act_max": None})
    g.add_node(node)
    g.inputs, g.outputs = ["x"], ["y"]
    infer_shapes(g)
    return g


def portable_variants_only():
    """Context: the kernel table without the variants that need a core feature (DSP, Helium), so a
    probe reaches the tuned portable kernels (`_fast`) as a layer does whose parameters the DSP /
    Helium kernels refuse. Restored on exit."""
    import contextlib

    from ..codegen.c.kernel_select import VARIANTS

    @contextlib.contextmanager
    def ctx():
        saved = {k: list(v) for k, v in VARIANTS.items()}
        try:
            for k in saved:
                VARIANTS[k] = [v for v in saved[k] if not v.requires]
            yield
        finally:
            VARIANTS.clear()
            VARIANTS.update(saved)
    return ctx()


def compile_probe(probe: tuple, core: str, bits: int, out: Path, portable_kernels: bool = False,
                  speed_first: bool = True):
    """One probe compiled at `bits` for `core`: its report row (with the window) and the input."""
    import contextlib

    from ..api import compile_model
    g = probe_graph(*probe)
    x = np.random.default_rng(1).standard_normal((8,) + g.tensors["x"].shape[1:]).astype(np.float32)
    mode = probe[7] if len(probe) > 7 else None
    with portable_variants_only() if mode == "portable" else contextlib.nullcontext():
        res = compile_model(g, out, target=core, calib=x, weight_bits=bits, quiet=True,
                            portable_kernels=portable_kernels, speed_first=speed_first,
                            requant="double" if mode == "double" else None)
    row = next(r for r in annotate_rows(res.graph, res.info["layers"]) if r["op"] in ("conv2d", "dense"))
    return row, x


def points_path(core: str) -> Path:
    """The probes' stored measurements (the fit's input): one record per probe, width and kernel choice."""
    return models_dir() / f"{core}.points.json"


def probe_id(probe: tuple, bits: int, speed_first: bool) -> str:
    return f"{probe_graph(*probe).name}_w{bits}_{'fast' if speed_first else 'default'}"


def measure_probes(core: str, board: str, widths=(8, 4, 2), portable_kernels: bool = False, quiet: bool = False,
                   cache: Path | None = None) -> list[dict]:
    """Compile every probe at every width for `core` and count its kernel's instructions on `board`
    (the layer alone: sim.layer_counts, no I/O copy or harness, as a layer of a real model runs).
    Each probe is compiled with its fastest kernel (speed_first) and with the default choice, which
    for a layer at the arena's peak (a single layer is) may be a leaner variant: a layer of a real
    model reaches either (quant.mixed.lower_uniform lowers it as the build does), both are measured.
    Records already in `cache` (a points.json) are reused; the cache is rewritten after each probe."""
    import json

    from ..api import simulate
    from ..sim.layer_counts import layer_instructions
    cache = cache or points_path(core)
    old = {r["id"]: r for r in json.loads(cache.read_text())["points"]} if cache.is_file() else {}
    recs = []
    with tempfile.TemporaryDirectory() as tmp:
        for probe in PROBES:
            for bits in widths:
                for speed_first in (True, False):
                    pid = probe_id(probe, bits, speed_first)
                    if pid in old:
                        recs.append(old[pid])
                        continue
                    out = Path(tmp) / pid
                    row, x = compile_probe(probe, core, bits, out, portable_kernels, speed_first)
                    same = [r for r in recs if r["id"] == probe_id(probe, bits, True) and kernel_key(r) == kernel_key(row)]
                    if same and not speed_first:           # the default choice is the fastest kernel
                        count = same[0]["measured"]
                    else:
                        simulate(out, board=board, x=x[:1], quiet=True)
                        count = layer_instructions(out, board, [row])[0]
                    recs.append(dict({k: row.get(k) for k in ROW_KEYS}, id=pid, probe=list(probe), bits=bits,
                                     speed_first=speed_first, measured=int(count)))
                    if not quiet:
                        print(f"{core} {pid}: {kernel_key(row)} {count} instructions", flush=True)
            write_points(cache, core, board, recs + [r for k, r in old.items() if k not in {q["id"] for q in recs}])
    return recs


ROW_KEYS = ("kernel", "window", "macs", "in_shape", "out_shape")


def write_points(path: Path, core: str, board: str, recs: list[dict]):
    """The probes' counts as JSON, one record a line."""
    import json
    body = ",\n".join(json.dumps(r, separators=(",", ":")) for r in recs)
    path.write_text(f'{{"core": "{core}", "board": "{board}",\n"points": [\n{body}\n]}}\n')


def fit(core: str, board: str, widths=(8, 4, 2), portable_kernels: bool = False, quiet: bool = False,
        records: list[dict] | None = None) -> dict:
    """Per kernel key, the non-negative least-squares model of its probes' measured instructions
    (measure_probes, or `records` already measured). A kernel choice reaching the same key as the
    other one on a probe counts once."""
    if records is None:
        records = measure_probes(core, board, widths, portable_kernels, quiet)
    rows: dict[str, list] = {}
    seen = set()
    for r in records:
        key = kernel_key(r)
        name = r["id"].rsplit("_", 1)[0]
        if (name, key) in seen:
            continue
        seen.add((name, key))
        rows.setdefault(key, []).append((layer_features(r), r["measured"], name, r["bits"]))
    fitted = {}
    for kernel, pts in rows.items():
        if len(pts) < MIN_POINTS:
            if not quiet:
                print(f"{core} {kernel}: {len(pts)} probe(s), below {MIN_POINTS}: no model (it borrows a sibling's)")
            continue
        a = np.array([p[0] for p in pts])
        y = np.array([p[1] for p in pts], np.float64)
        fitted[kernel] = fit_key(a, y)
    return fitted


def fit_key(a: np.ndarray, y: np.ndarray) -> dict:
    """The model of one key from its probes' features a and counts y: for each form (FORMS) with no
    more features than probes, the non-negative fit on the form's features and its leave-one-out
    error (each probe predicted by the fit of the others: with as many probes as features the fit
    itself is exact, and only this says how it extrapolates); the form whose larger of its largest
    error on its probes and its mean leave-one-out error is smallest wins."""
    best = None
    for name, form in FORMS.items():
        cols = [FEATURES.index(f) for f in form]
        if len(cols) > len(y):                 # "minimal" has MIN_POINTS features
            continue
        sub = a[:, cols]
        loo = np.array([abs(float(sub[i] @ nnls_fit(np.delete(sub, i, 0), np.delete(y, i))) - y[i]) / y[i]
                        for i in range(len(y))])
        c = np.zeros(len(FEATURES))
        c[cols] = nnls_fit(sub, y)
        # a form must fit its own probes and predict each left out: the worse of the two decides
        score = (max(float(np.max(np.abs(a @ c / y - 1))), float(loo.mean())), float(loo.max()))
        if best is None or score < best[0]:
            best = (score, name, c, loo)
    (_, name, c, loo) = best
    return {"coefs": c, "n": len(y), "max_rel_err": float(np.max(np.abs(a @ c - y) / y)),
            "loo_rel_err": float(loo.max()), "loo_mean": float(loo.mean()), "form": name}


# rows weighted by count ** -REL_POWER: 0 minimises the absolute errors (the large layers rule),
# 1 the relative ones; in between keeps small layers from being off by multiples
REL_POWER = 1


def nnls_fit(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative least squares, the rows weighted (REL_POWER), the columns scaled so nnls sees
    comparable magnitudes."""
    from scipy.optimize import nnls
    w = np.asarray(y, np.float64) ** -REL_POWER
    aw = a * w[:, None]
    norm = np.maximum(np.abs(aw).max(axis=0), 1e-12)
    c, _ = nnls(aw / norm, y * w)
    return c / norm


def write_toml(core: str, board: str, fitted: dict, path: Path | None = None) -> Path:
    path = path or models_dir() / f"{core}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# Instruction models per kernel for {core}, fitted to QEMU ({board}) executed-instruction",
             "# counts of the kernel call alone (sim/layer_counts.py) in single-layer models",
             f"# (mcuforge.quant.instr_model.PROBES; the counts: {core}.points.json):",
             "#   instructions = sum of coefficient * feature (quant/instr_model.py: layer_features), features",
             "#   " + ", ".join(FEATURES),
             "# each key's `form` (FORMS) the subset its fit uses (the others are 0): the one whose",
             "# probes are predicted best when left out. max_rel_err: the fit's largest relative error on",
             "# its probes; loo_rel_err: each probe predicted by the model of the other probes (how the",
             "# model extrapolates)",
             "# Refit: PYTHONPATH=compiler python -m mcuforge.quant.instr_model "
             f"--core {core} --board {board}", "",
             "[fit]", f'core = "{core}"', f'board = "{board}"', ""]
    for kernel in sorted(fitted):
        f = fitted[kernel]
        lines.append(f'[kernels."{kernel}"]')
        lines += [f"{name} = {float(v):.6g}" for name, v in zip(FEATURES, f["coefs"])]
        lines += [f"points = {f['n']}", f"max_rel_err = {f['max_rel_err']:.4f}",
                  f"loo_rel_err = {f['loo_rel_err']:.4f}", f'form = "{f["form"]}"', ""]
    path.write_text("\n".join(lines))
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description="Fit per-kernel instruction models to QEMU counts.")
    p.add_argument("--core", default="cortex-m4")
    p.add_argument("--board", default="mps2-an386")
    p.add_argument("--out", help="TOML file (default targets/instr_models/<core>.toml)")
    p.add_argument("--measure-only", action="store_true", help="measure the probes missing from <core>.points.json, no fit")
    p.add_argument("--cached", action="store_true", help="refit from <core>.points.json alone (no QEMU; probes "
                                                         "missing from it are left out)")
    args = p.parse_args(argv)
    if args.cached:
        import json
        fitted = fit(args.core, args.board, records=json.loads(points_path(args.core).read_text())["points"])
    else:
        recs = measure_probes(args.core, args.board)
        if args.measure_only:
            return
        fitted = fit(args.core, args.board, records=recs)
    path = write_toml(args.core, args.board, fitted, Path(args.out) if args.out else None)
    for k, f in sorted(fitted.items()):
        print(f"{k}: max relative error {f['max_rel_err']:.3f} over {f['n']} probes, "
              f"leaving one out {f['loo_rel_err']:.3f}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
