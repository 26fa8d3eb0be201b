"""patch_paste: write one patch of a feature map into the whole map (schedule/patches.py).

    y = patch_paste(patch, y0=, x0=, shape=)          the first patch: the other pixels are not
                                                      yet defined (later pastes fill them)
    y = patch_paste(prev, patch, y0=, x0=, shape=)    y = prev with patch written at (y0, x0)

The pastes of one patch stage form a chain whose last output is the stage's whole output; the
planner lets each one alias its dying `prev` (an exact in-place pair), so the patches land
straight in one buffer. Bytes only move: int8 keeps the patch's quantization."""
import numpy as np

from .base import REQUIRED, OpDef, register


@register
class PatchPaste(OpDef):
    name = "patch_paste"
    # defined: bytes of `prev` written so far (the prefix a copy needs when prev is not aliased);
    # over: {stage input: gap} - the output may start gap bytes below that input and run over it
    # (schedule/patches.py proves the pastes never reach input bytes a later patch reads)
    attrs = {"y0": REQUIRED, "x0": REQUIRED, "shape": REQUIRED, "defined": 0, "over": {}}
    keeps_quant = True

    def infer(self, node, ins):
        shape = tuple(int(d) for d in node.attrs["shape"])
        patch = ins[-1]
        y0, x0 = node.attrs["y0"], node.attrs["x0"]
        if len(ins) not in (1, 2) or len(patch.shape) != 4 or len(shape) != 4 or patch.shape[0] != shape[0] \
                or patch.shape[3] != shape[3] or not (0 <= y0 and y0 + patch.shape[1] <= shape[1]
                                                      and 0 <= x0 and x0 + patch.shape[2] <= shape[2]):
            raise ValueError(f"patch_paste {node.name}: a {patch.shape} patch at ({y0}, {x0}) of {shape}")
        if len(ins) == 2 and tuple(ins[0].shape) != shape:
            raise ValueError(f"patch_paste {node.name}: previous map {ins[0].shape}, expected {shape}")
        return [(shape, patch.dtype)]

    def paste(self, node, xs):
        patch = xs[-1]
        y = np.array(xs[0]) if len(xs) == 2 else np.zeros(node.attrs["shape"], patch.dtype)
        y0, x0 = node.attrs["y0"], node.attrs["x0"]
        y[:, y0:y0 + patch.shape[1], x0:x0 + patch.shape[2], :] = patch
        return [y]

    def run_float(self, node, xs):
        return self.paste(node, xs)

    def run_int8(self, node, xs, p):
        return self.paste(node, xs)

    def run_fixed(self, node, xs, p):
        return self.paste(node, xs)
