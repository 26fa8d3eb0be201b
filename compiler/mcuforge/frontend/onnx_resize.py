"""ONNX Resize / Upsample / ConvTranspose -> the IR's resize and conv_transpose2d (NHWC).

Resize: nearest (every coordinate_transformation_mode and nearest_mode) and linear (bilinear on
H and W); cubic, tf_crop_and_resize and antialiased downscaling are refused by name. Upsample
(opset 7 / 9) and Resize-10 use onnxruntime's rules for them: asymmetric coordinates and, for
nearest, the truncating "simple" rounding. ConvTranspose: groups, strides, dilations, pads,
output_padding, output_shape and auto_pad reduce to a window (pads, size) of the full output,
with onnxruntime's split of the padding (SAME_UPPER: the odd pixel at the end; otherwise at the
start, output_shape with NOTSET included)."""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOpError
from ..ir.tensor import QuantParams


def _str(v, default: str) -> str:
    if v is None:
        return default
    return v.decode() if isinstance(v, bytes) else str(v)


class ResizeOps:
    # -- Resize / Upsample -----------------------------------------------------------------------
    def _optional_const(self, node, idx: int, what: str):
        if idx >= len(node.input) or not node.input[idx]:
            return None
        v = self.require_const(node, idx, what)
        return None if v.size == 0 else v

    def op_Resize(self, node, a):
        mode = _str(a.get("mode"), "nearest")
        if self.opset < 11:
            scales = self._optional_const(node, 1, "scales")
            sizes = None
            coord, nearest = "asymmetric", "simple"
        else:
            scales = self._optional_const(node, 2, "scales")
            sizes = self._optional_const(node, 3, "sizes")
            coord = _str(a.get("coordinate_transformation_mode"), "half_pixel")
            nearest = _str(a.get("nearest_mode"), "round_prefer_floor")
        if mode == "cubic":
            raise UnsupportedOpError("Resize", node.name, "mode 'cubic' is not supported (use 'nearest' or 'linear')")
        if mode not in ("nearest", "linear"):
            raise UnsupportedOpError("Resize", node.name, f"mode {mode!r} (nearest or linear)")
        if coord == "tf_crop_and_resize":
            raise UnsupportedOpError("Resize", node.name, "coordinate_transformation_mode 'tf_crop_and_resize' "
                                     "(crop boxes) is not supported")
        self._resize(node, a, mode, coord, nearest, scales, sizes)

    def op_Upsample(self, node, a):
        mode = _str(a.get("mode"), "nearest")
        if mode == "bilinear":
            mode = "linear"
        if mode not in ("nearest", "linear"):
            raise UnsupportedOpError("Upsample", node.name, f"mode {mode!r} (nearest or linear)")
        scales = a.get("scales")
        if scales is None:
            scales = self.require_const(node, 1, "scales")
        self._resize(node, a, mode, "asymmetric", "simple", np.asarray(scales, np.float32), None)

    def _resize(self, node, a, mode, coord, nearest, scales, sizes):
        shape = self._onnx_shape(node.input[0])
        rank = len(shape)
        if rank != 4:
            raise UnsupportedOpError(node.op_type, node.name, f"rank-{rank} input (2-D spatial resize of NCHW only)")
        axes = [int(ax) % rank for ax in a.get("axes", range(rank))]
        full_scales = np.ones(rank, np.float32)
        out = list(shape)
        if sizes is not None:
            sizes = [int(s) for s in np.asarray(sizes).reshape(-1)]
            if len(sizes) != len(axes):
                raise UnsupportedOpError(node.op_type, node.name, f"{len(sizes)} sizes for {len(axes)} axes")
            policy = _str(a.get("keep_aspect_ratio_policy"), "stretch")
            if policy == "stretch":
                for ax, s in zip(axes, sizes):
                    out[ax] = s
                scale_hw = None
            else:
                ratios = [np.float32(s) / np.float32(shape[ax]) for ax, s in zip(axes, sizes)]
                r = min(ratios) if policy == "not_larger" else max(ratios)
                for ax in axes:
                    full_scales[ax] = r
                    out[ax] = int(np.floor(np.float32(shape[ax]) * r + np.float32(0.5)))
                scale_hw = (float(r), float(r))
        elif scales is not None:
            scales = np.asarray(scales, np.float32).reshape(-1)
            if len(scales) != len(axes):
                raise UnsupportedOpError(node.op_type, node.name, f"{len(scales)} scales for {len(axes)} axes")
            for ax, s in zip(axes, scales):
                if s <= 0:
                    raise UnsupportedOpError(node.op_type, node.name, f"scale {s} on axis {ax}")
                full_scales[ax] = s
                out[ax] = int(np.floor(np.float32(shape[ax]) * s))
            scale_hw = (float(full_scales[2]), float(full_scales[3]))
        else:
            raise UnsupportedOpError(node.op_type, node.name, "neither scales nor sizes given")
        if out[0] != shape[0] or out[1] != shape[1] or full_scales[0] != 1 or full_scales[1] != 1:
            raise UnsupportedOpError(node.op_type, node.name, f"resizing the batch or channel axis "
                                     f"({tuple(shape)} -> {tuple(out)}); only H and W")
        if mode == "linear" and int(a.get("antialias", 0)) and (out[2] < shape[2] or out[3] < shape[3]):
            raise UnsupportedOpError(node.op_type, node.name, "antialiased linear downscaling is not supported")
        attrs = {"mode": mode, "size": (out[2], out[3]), "coord": coord, "nearest_mode": nearest,
                 "scales": scale_hw}
        x = self.nhwc(node.input[0])
        self.bind(node.output[0], self.add("resize", [x], None, attrs, name=node.name), "nhwc")

    # -- ConvTranspose ---------------------------------------------------------------------------
    def op_ConvTranspose(self, node, a):
        w = self.require_const(node, 1, "weights")
        if w.ndim != 4:
            raise UnsupportedOpError("ConvTranspose", node.name, f"only 2-D transposed convolution, weights have "
                                     f"rank {w.ndim}")
        x = self.nhwc(node.input[0])
        _, h, wd, cin = self.t(x).shape
        groups = int(a.get("group", 1))
        cin_w, cout_g, kh, kw = w.shape
        if cin_w != cin or cin % groups:
            raise UnsupportedOpError("ConvTranspose", node.name, f"weights {w.shape} do not match {cin} input "
                                     f"channels with group={groups}")
        kernel = tuple(a.get("kernel_shape", (kh, kw)))
        if tuple(kernel) != (kh, kw):
            raise UnsupportedOpError("ConvTranspose", node.name, f"kernel_shape {kernel} differs from the weights'")
        strides = tuple(int(s) for s in a.get("strides", (1, 1)))
        dil = tuple(int(d) for d in a.get("dilations", (1, 1)))
        adj = tuple(int(p) for p in a.get("output_padding", (0, 0)))
        auto = _str(a.get("auto_pad"), "NOTSET")
        pads = tuple(int(p) for p in a.get("pads", (0, 0, 0, 0)))
        out_shape = a.get("output_shape")
        if out_shape is not None:
            out_shape = [int(d) for d in out_shape][-2:]
        heads, sizes = [], []
        for i, n_in in enumerate((h, wd)):
            k = (kernel[i], strides[i], dil[i], adj[i])
            full = (n_in - 1) * k[1] + k[3] + (k[0] - 1) * k[2] + 1
            if out_shape is not None:
                total = max(0, full - out_shape[i])
                head = total // 2 if auto == "SAME_UPPER" else total - total // 2
                heads.append(head)
                sizes.append(out_shape[i])
                continue
            if auto in ("SAME_UPPER", "SAME_LOWER"):
                total = max(0, full - n_in * k[1])
                head = total // 2 if auto == "SAME_UPPER" else total - total // 2
                tail = total - head
            elif auto == "VALID":
                head = tail = 0
            else:
                head, tail = pads[i], pads[i + 2]
            heads.append(head)
            sizes.append(full - head - tail)
        w_ir = self._conv_transpose_weight(node, w, groups)
        ins = [x, w_ir]
        if len(node.input) > 2 and node.input[2]:
            self.require_const(node, 2, "bias")
            ins.append(self.vals[node.input[2]][0])
        attrs = {"strides": strides, "dilations": dil, "pads": tuple(heads), "size": tuple(sizes), "groups": groups}
        self.bind(node.output[0], self.add("conv_transpose2d", ins, None, attrs, name=node.name), "nhwc")

    def _conv_transpose_weight(self, node, w: np.ndarray, groups: int) -> str:
        """[Cin, Cout/g, KH, KW] -> [Cout, KH, KW, Cin/g], carrying QDQ scales (ONNX's per-channel
        axis 1, the output channel within a group, becomes axis 0)."""
        cin, cout_g, kh, kw = w.shape

        def rearrange(arr):
            return np.ascontiguousarray(arr.reshape(groups, cin // groups, cout_g, kh, kw)
                                        .transpose(0, 2, 3, 4, 1).reshape(groups * cout_g, kh, kw, cin // groups))
        src = self.t(self.vals[node.input[1]][0])
        quant = src.quant
        if quant is not None and quant.per_channel:
            if quant.axis != 1:
                raise UnsupportedOpError("ConvTranspose", node.name, f"weights quantized per channel along axis "
                                         f"{quant.axis} (only the output-channel axis 1)")
            quant = QuantParams(np.tile(quant.scale, groups), np.tile(quant.zero_point, groups), 0)
        c = self.g.const(f"{node.name}_w", rearrange(w).astype(np.float32), "float32", quant)
        if "q_int" in src.meta:
            c.meta["q_int"] = rearrange(src.meta["q_int"])
        return c.name
