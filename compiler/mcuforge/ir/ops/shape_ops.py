"""Ops that move data without arithmetic: reshape, transpose, concat, pad."""
import numpy as np

from .base import REQUIRED, OpDef, register


@register
class Reshape(OpDef):
    """Same bytes, new shape: the device runs it as an alias of its input when possible."""
    name = "reshape"
    attrs = {"shape": REQUIRED}
    keeps_quant = True

    def infer(self, node, ins):
        shape = tuple(node.attrs["shape"])
        if int(np.prod(shape)) != ins[0].size:
            raise ValueError(f"reshape {node.name}: {ins[0].shape} cannot become {shape}")
        return [(shape, ins[0].dtype)]

    def run_float(self, node, xs):
        return [xs[0].reshape(node.attrs["shape"])]

    def run_int8(self, node, xs, p):
        return [xs[0].reshape(node.attrs["shape"])]

    def run_fixed(self, node, xs, p):
        return [xs[0].reshape(node.attrs["shape"])]


@register
class Transpose(OpDef):
    name = "transpose"
    attrs = {"perm": REQUIRED}
    keeps_quant = True

    def infer(self, node, ins):
        perm = node.attrs["perm"]
        return [(tuple(ins[0].shape[i] for i in perm), ins[0].dtype)]

    def run_float(self, node, xs):
        return [np.transpose(xs[0], node.attrs["perm"])]

    run_int8 = lambda self, node, xs, p: [np.transpose(xs[0], node.attrs["perm"])]  # noqa: E731


@register
class Concat(OpDef):
    """Concatenation; in int8 all inputs must share the output's quantization (the quantizer
    inserts requantize ops where they do not)."""
    name = "concat"
    attrs = {"axis": REQUIRED}

    def infer(self, node, ins):
        ax = node.attrs["axis"] % len(ins[0].shape)
        shape = list(ins[0].shape)
        for t in ins[1:]:
            if len(t.shape) != len(shape) or any(a != b for i, (a, b) in enumerate(zip(t.shape, shape)) if i != ax):
                raise ValueError(f"concat {node.name}: shapes {[t.shape for t in ins]} differ off axis {ax}")
        shape[ax] = sum(t.shape[ax] for t in ins)
        return [(tuple(shape), ins[0].dtype)]

    def run_float(self, node, xs):
        return [np.concatenate(xs, axis=node.attrs["axis"])]

    def int8_params(self, node, g):
        oq = g.tensors[node.outputs[0]].quant
        for t in node.inputs:
            if not g.tensors[t].quant.same_as(oq):
                raise ValueError(f"concat {node.name}: input {t} quantized differently from output")
        return {}

    def run_int8(self, node, xs, p):
        return [np.concatenate(xs, axis=node.attrs["axis"])]

    def fixed_params(self, node, g):
        # fixed: every input is cast to the output's type (its rounding and overflow), then joined
        from ...reference import fixed_arith
        o = fixed_arith.tensor_type(g, node.outputs[0])
        return {"in_fracs": [fixed_arith.tensor_type(g, t).frac for t in node.inputs], "out": o,
                "act_lo": o.raw_min, "act_hi": o.raw_max}

    def run_fixed(self, node, xs, p):
        from ...reference import fixed_arith
        return [np.concatenate([fixed_arith.cast(x, f, p["out"]) for x, f in zip(xs, p["in_fracs"])],
                               axis=node.attrs["axis"])]


@register
class Pad(OpDef):
    """Padding; pads = ((before, after), ...) per dimension. mode "constant" fills with value (real
    units), "edge" repeats the border element, "reflect" mirrors without repeating the border
    (numpy's and ONNX's reflect; pads must then be smaller than the dimension)."""
    name = "pad"
    attrs = {"pads": REQUIRED, "value": 0.0, "mode": "constant"}
    keeps_quant = True
    MODES = ("constant", "edge", "reflect")

    def infer(self, node, ins):
        mode = node.attrs["mode"]
        if mode not in self.MODES:
            raise ValueError(f"pad {node.name}: mode {mode!r} (supported: {', '.join(self.MODES)})")
        for d, (a, b) in zip(ins[0].shape, node.attrs["pads"]):
            if min(a, b) < 0 or (mode == "reflect" and max(a, b) >= d) or (mode == "edge" and d == 0):
                raise ValueError(f"pad {node.name}: pads {(a, b)} on a dimension of {d} in mode {mode}")
        shape = tuple(d + a + b for d, (a, b) in zip(ins[0].shape, node.attrs["pads"]))
        return [(shape, ins[0].dtype)]

    def _pad(self, node, x, fill):
        mode = node.attrs["mode"]
        if mode == "constant":
            return np.pad(x, node.attrs["pads"], constant_values=fill)
        return np.pad(x, node.attrs["pads"], mode=mode)

    def run_float(self, node, xs):
        return [self._pad(node, xs[0], node.attrs["value"])]

    def int8_params(self, node, g):
        from ...reference.arith import round_half_away
        q = g.tensors[node.inputs[0]].quant
        fill = int(np.clip(round_half_away(node.attrs["value"] / q.s) + q.zp, -128, 127))
        return {"fill": fill}

    def run_int8(self, node, xs, p):
        return [self._pad(node, xs[0], p["fill"])]
