"""Instruction model of the kernel variants: what the default memory/speed choice (lean.py) weighs
arena bytes against.

A layer costs (its MACs, or its output elements for a layer without MACs) x the instructions per
unit of its kernel. The per-MAC figures are exact QEMU counts on Cortex-M4 of one layer shape per
kernel (benchmarks/kernel_costs.py prints them; whole runs, copies included), rounded up a little;
they model the relative cost of a leaner variant, which is all the choice needs. Kernels not
listed: an optimized variant costs 1 per unit, a portable reference kernel the portable
convolution's 8 (depthwise 32)."""
from __future__ import annotations

# instructions per MAC on Cortex-M4 (M7 and M33 run the same code within 1 %)
PER_MAC = {
    "mcf_conv2d_s8_dsp": 0.85,
    "mcf_conv2d_s8_dsp_lean": 2.2,
    "mcf_conv2d_s8_fast": 1.85,
    "mcf_conv2d_s8": 8.0,
    "mcf_fully_connected_s8_dsp": 0.85,
    "mcf_fully_connected_s8_dsp_lsh": 0.9,      # one instruction more per output (docs/pareto.md)
    "mcf_fully_connected_s8_dsp_row": 1.05,
    "mcf_fully_connected_s8_dsp_lean": 1.9,
    "mcf_fully_connected_s8_fast": 1.55,
    "mcf_fully_connected_s8": 6.3,
    "mcf_depthwise_conv2d_s8_dsp3x3": 2.2,
    "mcf_depthwise_conv2d_s8_dsp3x3_1": 2.5,
    "mcf_depthwise_conv2d_s8_dsp2": 3.3,
    "mcf_depthwise_conv2d_s8_dsp": 3.5,
    "mcf_depthwise_conv2d_s8_fast": 7.7,
    # left-shift channels (variants/dsp_conv_lsh.py): the GEMM one instruction more per output, the
    # 3x3 kernel's e = 0 channels two fewer, the general depthwise one compare more (docs/pareto.md)
    "mcf_conv2d_s8_dsp_lsh": 0.9,
    "mcf_depthwise_conv2d_s8_dsp3x3_lsh": 2.2,
    "mcf_depthwise_conv2d_s8_dsp3x3_lsh1": 2.5,
    "mcf_depthwise_conv2d_s8_dsp2_lsh": 3.4,
    "mcf_depthwise_conv2d_s8_dsp_lsh": 3.6,
    "mcf_depthwise_conv2d_s8": 32.0,
    # sub-byte weights (docs/subbyte.md; the same for int4 _w4 and ternary _w2)
    "mcf_conv2d_s8_w4_dsp": 0.9, "mcf_conv2d_s8_w2_dsp": 0.9,
    "mcf_conv2d_s8_w4_dsp_lsh": 0.95, "mcf_conv2d_s8_w2_dsp_lsh": 0.95,
    "mcf_conv2d_s8_w4_dsp_lss": 0.9, "mcf_conv2d_s8_w2_dsp_lss": 0.9,
    # the radix form (few-pixel layers over one block): 0.82-0.86 on vww_mbv1_96's 3x3-pixel layers alone
    "mcf_conv2d_s8_w4_dsp_rdx": 0.87, "mcf_conv2d_s8_w2_dsp_rdx": 0.87,
    "mcf_conv2d_s8_w4_mve": 0.25, "mcf_conv2d_s8_w2_mve": 0.25,     # Cortex-M55
    "mcf_fully_connected_s8_w4_dsp": 1.9, "mcf_fully_connected_s8_w2_dsp": 1.9,
    "mcf_fully_connected_s8_w4_dsp_head": 1.9, "mcf_fully_connected_s8_w2_dsp_head": 1.9,
    # several rows with left-shift channels: the convolutions' block kernels (16 x 32 -> 24: 1.2)
    "mcf_fully_connected_s8_w4_dsp_lsh": 1.2, "mcf_fully_connected_s8_w2_dsp_lsh": 1.2,
    "mcf_fully_connected_s8_w4_dsp_lss": 1.2, "mcf_fully_connected_s8_w2_dsp_lss": 1.2,
    "mcf_conv2d_s8_w4_fast": 3.5, "mcf_conv2d_s8_w2_fast": 3.5,
    "mcf_fully_connected_s8_w4_fast": 11.0, "mcf_fully_connected_s8_w2_fast": 11.0,
    # M0 / M3 (no scratch; QEMU M3, FC 256->64: 2.22 / 2.06, docs/subbyte.md)
    "mcf_fully_connected_s8_w4_pair": 2.2, "mcf_fully_connected_s8_w2_pair": 2.1,
    # convolution: per pixel the FC loop over its patch (a typical shape; pair_conv_per_mac per layer)
    "mcf_conv2d_s8_w4_pair": 2.5, "mcf_conv2d_s8_w2_pair": 2.4,
    "mcf_depthwise_conv2d_s8_w4_dsp": 2.3, "mcf_depthwise_conv2d_s8_w2_dsp": 2.3,
    "mcf_depthwise_conv2d_s8_w4_dsp_lsh": 2.3, "mcf_depthwise_conv2d_s8_w2_dsp_lsh": 2.3,
    "mcf_depthwise_conv2d_s8_w4_fast": 28.0, "mcf_depthwise_conv2d_s8_w2_fast": 28.0,
    # the int8 _fast kernel over unpacked taps (a typical shape; fastu_dw_per_mac per layer)
    "mcf_depthwise_conv2d_s8_w4_fastu": 7.9, "mcf_depthwise_conv2d_s8_w2_fastu": 7.9,
    # any other depthwise shape: the int8 general DSP kernel's figure (one or two planes), +0.1 for
    # the left-shift form's compare (Cortex-M55's _mve / _mve_gen: the optimized default, 1.0)
    "mcf_depthwise_conv2d_s8_w4_dsp_gen": 3.5, "mcf_depthwise_conv2d_s8_w2_dsp_gen": 3.5,
    "mcf_depthwise_conv2d_s8_w4_dsp_gen_lsh": 3.6, "mcf_depthwise_conv2d_s8_w2_dsp_gen_lsh": 3.6,
    # the portable sub-byte kernels read every field with the generic accessor, about twice the
    # portable int8 kernels' figures (QEMU M4, a 4x4 48->10 conv over a 4x4 map: 18.2 / 17.4 a MAC;
    # QEMU M3, FC 256->64: 17.3 / 12.8). Left at the portable default of 8, the arena choice passed a
    # one-pixel conv head off its DSP kernel onto these at 8.4x int8's instructions.
    "mcf_conv2d_s8_w4": 18.0, "mcf_conv2d_s8_w2": 17.0,
    "mcf_fully_connected_s8_w4": 17.0, "mcf_fully_connected_s8_w2": 12.5,
}


def pair_conv_per_mac(bits: int, kp: int, out_c: int, direct: bool) -> float:
    """Modelled instructions per MAC of mcf_conv2d_s8_w{bits}_pair for a patch of kp bytes (QEMU M3,
    docs/subbyte.md): the dot loop (31 per 16 MACs int4, 57 per 32 ternary), per output channel
    the loop's call, the bias and the requantization (about 55), per pixel and patch byte the
    input sum (3) and, unless the pixel is read in place, the gather (2). Measured: 3x3 16->16
    2.81 (model 2.63), 3x3 32->32 2.32 (2.29), pointwise 32->64 3.68 (3.71)."""
    loop = 31 / 16 if bits == 4 else 57 / 32
    return loop + 55 / kp + (3 if direct else 5) / out_c


def fast_conv_per_mac(k: int) -> float:
    """The same for mcf_conv2d_s8_w{4,2}_fast at patch length k (QEMU M3: k 288 / 144 / 32: 2.95 /
    3.40 / 4.17); PER_MAC keeps a typical shape's figure."""
    return 2.8 + 44 / k


def fastu_dw_per_mac(taps: int, pixels: int) -> float:
    """Modelled instructions per MAC of mcf_depthwise_conv2d_s8_w{4,2}_fastu: the int8 _fast
    depthwise kernel's figure, plus the unpacking once per call (about 12 a tap and 30 a channel:
    the constants, the call) shared by the layer's output pixels."""
    return PER_MAC["mcf_depthwise_conv2d_s8_fast"] + (12 + 30 / taps) / pixels


OPTIMIZED_PER_UNIT = 1.0
PORTABLE_PER_UNIT = 8.0
# a layer without MACs (add, pooling, copies): instructions per output element
PER_ELEMENT = 4.0


def layer_instructions(layer, g) -> float:
    """Modelled instructions of one built layer."""
    if layer.macs > 0:
        per = PER_MAC.get(layer.kernel)
        if per is None:
            optimized = any(f"_{isa}" in layer.kernel for isa in ("dsp", "mve", "fast"))
            per = OPTIMIZED_PER_UNIT if optimized else PORTABLE_PER_UNIT
        return per * layer.macs
    n = sum(g.tensors[t].size for t in layer.node.outputs if t in g.tensors)
    return PER_ELEMENT * n


def model_instructions(layers: list, g) -> float:
    return sum(layer_instructions(l, g) for l in layers)
