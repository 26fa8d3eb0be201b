"""ONNX elementwise operators (mixin of OnnxImporter): Add / Sub / Mul / Div / Max / Min with numpy
broadcasting in any layout combination, the activations (Tanh, LeakyRelu, PRelu, Elu, Erf, Gelu,
Pow with a constant exponent) and Softmax / LogSoftmax on any axis.

Layouts: a 4-D value that a spatial op produced lives NHWC in the IR. A binary op between such a
value and a value in ONNX order (a constant, or e.g. an SE gate [N, C, 1, 1] computed by Linear
layers) brings the other operand into NHWC: a constant is transposed at compile time, a variable
whose non-unit dims keep their order is only reshaped (no data movement), anything else gets a
transpose. So the SE block's x * gate stays one broadcasting multiply on NHWC data.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOpError

TO_NHWC = (0, 2, 3, 1)
NCHW_AXIS_IN_NHWC = {0: 0, 1: 3, 2: 1, 3: 2}
BINARY_NP = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
             "max": np.maximum, "min": np.minimum}


class ElementwiseOps:
    # -- binary ------------------------------------------------------------------------------
    def _const_operand_nhwc(self, node, onnx_name: str, c: np.ndarray) -> str:
        """A constant operand of an NHWC value, rank-promoted to 4 and transposed (keeping a QDQ
        per-tensor quantization and its integers)."""
        if c.ndim > 4:
            raise UnsupportedOpError(node.op_type, node.name, f"a {c.ndim}-D constant against a 4-D image")
        shape4 = (1,) * (4 - c.ndim) + c.shape
        c4 = np.transpose(c.reshape(shape4), TO_NHWC)
        src = self.t(self.vals[onnx_name][0])
        quant = src.quant if src.quant is not None and not src.quant.per_channel else None
        dtype = "float32" if c.dtype == np.float64 else str(c.dtype)
        t = self.g.const(self.g.unique(f"{node.name}_c"), c4.astype(np.float32) if dtype == "float32" else c4,
                         dtype, quant)
        if quant is not None and "q_int" in src.meta:
            t.meta["q_int"] = np.transpose(np.asarray(src.meta["q_int"]).reshape(shape4), TO_NHWC)
        return t.name

    def _var_operand_nhwc(self, node, onnx_name: str) -> str | None:
        """A variable in ONNX order brought to NHWC; None if its rank does not allow it."""
        ir = self.vals[onnx_name][0]
        shape = self.t(ir).shape
        if len(shape) > 4:
            return None
        shape4 = (1,) * (4 - len(shape)) + tuple(shape)
        nhwc = tuple(shape4[i] for i in TO_NHWC)
        moved = [i for i in TO_NHWC if shape4[i] != 1]  # the non-unit axes, in NHWC order
        if moved != sorted(moved) and len(shape) == 4:
            return self.nhwc(onnx_name)  # a real transpose (or a graph input taken NHWC)
        key = (ir, "nhwc_operand")
        if key not in self._converted:  # one conversion per value, however many ops read it
            if moved == sorted(moved):   # only unit axes move: the same bytes, reshaped
                out = self.add("reshape", [self.plain(onnx_name)], None, {"shape": nhwc}, name=f"{node.name}_nhwc")
            else:
                x = self.add("reshape", [self.plain(onnx_name)], None, {"shape": shape4}, name=f"{node.name}_r4")
                out = self.add("transpose", [x], None, {"perm": TO_NHWC}, name=f"{node.name}_t")
            self._converted[key] = out
        return self._converted[key]

    def _binary(self, op, node, x=None, y=None, out=None):
        """Bind ONNX value `out` (default: the node's output) to op(x, y)."""
        x = node.input[0] if x is None else x
        y = node.input[1] if y is None else y
        out = node.output[0] if out is None else out
        cx, cy = self.const_value(x), self.const_value(y)
        if cx is not None and cy is not None:
            self.const(out, np.asarray(BINARY_NP[op](cx, cy)))
            return
        (irx, lx), (iry, ly) = self.vals[x], self.vals[y]
        ins, layout = None, None
        if lx == ly:
            ins, layout = [irx, iry], lx
        elif "nhwc" in (lx, ly):
            other, c = (y, cy) if lx == "nhwc" else (x, cx)
            conv = self._const_operand_nhwc(node, other, c) if c is not None else self._var_operand_nhwc(node, other)
            if conv is not None:
                ins = [irx, conv] if lx == "nhwc" else [conv, iry]
                layout = "nhwc"
        if ins is None:
            ins, layout = [self.plain(x), self.plain(y)], None
        for i in ins:
            self.unconsumed_inputs.discard(i)
        self.bind(out, self.add(op, ins, None, None, name=node.name), layout)

    def op_Add(self, node, a):
        self._binary("add", node)

    def op_Sub(self, node, a):
        self._binary("sub", node)

    def op_Mul(self, node, a):
        self._binary("mul", node)

    def op_Div(self, node, a):
        c = self.const_value(node.input[1])
        if c is not None and self.const_value(node.input[0]) is None and np.issubdtype(c.dtype, np.floating):
            # x / c == x * (1 / c): a multiply, which int8 supports; the reciprocal is a new constant
            recip = f"{node.name}_reciprocal"
            self.const(recip, (1.0 / c.astype(np.float64)).astype(np.float32))
            self._binary("mul", node, y=recip)
        else:
            self._binary("div", node)

    def _variadic(self, op, node):
        """Max / Min: any number of inputs, folded pairwise (one input: the identity)."""
        if len(node.input) == 1:
            self.vals[node.output[0]] = self.vals[node.input[0]]
            return
        acc = node.input[0]
        for k, other in enumerate(node.input[1:]):
            out = node.output[0] if k == len(node.input) - 2 else f"{node.name}_partial{k}"
            self._binary(op, node, x=acc, y=other, out=out)
            acc = out

    def op_Max(self, node, a):
        self._variadic("max", node)

    def op_Min(self, node, a):
        self._variadic("min", node)

    def op_PRelu(self, node, a):
        slope = self.const_value(node.input[1])
        if slope is None:
            raise UnsupportedOpError("PRelu", node.name, "a variable slope (the slope must be a constant)")
        ir, layout = self.vals[node.input[0]]
        if layout == "nhwc":
            s = self._const_operand_nhwc(node, node.input[1], slope)
        else:
            s = self.vals[node.input[1]][0]
        self.unconsumed_inputs.discard(ir)
        self.bind(node.output[0], self.add("prelu", [ir, s], None, None, name=node.name), layout)

    # -- unary -------------------------------------------------------------------------------
    def op_Tanh(self, node, a):
        self._unary("tanh", node)

    def op_LeakyRelu(self, node, a):
        self._unary("leakyrelu", node, {"alpha": float(a.get("alpha", 0.01))})

    def op_Elu(self, node, a):
        self._unary("elu", node, {"alpha": float(a.get("alpha", 1.0))})

    def op_Erf(self, node, a):
        self._unary("erf", node)

    def op_Gelu(self, node, a):
        approx = a.get("approximate", b"none")
        approx = approx.decode() if isinstance(approx, bytes) else approx
        if approx not in ("none", "tanh"):
            raise UnsupportedOpError("Gelu", node.name, f"approximate={approx!r} (none or tanh)")
        self._unary("gelu", node, {"approximate": approx})

    def op_Pow(self, node, a):
        e = self.const_value(node.input[1])
        if e is None or e.size != 1:
            raise UnsupportedOpError("Pow", node.name, "a variable or non-scalar exponent (only a constant scalar)")
        self._unary("pow", node, {"exponent": float(e.reshape(-1)[0])})

    # -- softmax family ----------------------------------------------------------------------
    def _softmax_like(self, op, node, a):
        shape = self._onnx_shape(node.input[0])
        rank = len(shape)
        from .validate_onnx import check_axis
        axis = check_axis(node, a.get("axis", -1 if self.opset >= 13 else 1), rank)
        if self.opset < 13 and axis != rank - 1:
            # Before opset 13 (Log)Softmax flattens everything from `axis` on into one row.
            x = self.plain(node.input[0])
            flat = self.add("reshape", [x], None, {"shape": (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))})
            y = self.add(op, [flat], None, {"axis": 1}, name=node.name)
            self.bind(node.output[0], self.add("reshape", [y], None, {"shape": shape}), None)
            return
        ir, layout = self.vals[node.input[0]]
        if layout == "nhwc":
            axis = NCHW_AXIS_IN_NHWC[axis]
        self.unconsumed_inputs.discard(ir)
        self.bind(node.output[0], self.add(op, [ir], None, {"axis": axis}, name=node.name), layout)

    def op_Softmax(self, node, a):
        self._softmax_like("softmax", node, a)

    def op_LogSoftmax(self, node, a):
        self._softmax_like("log_softmax", node, a)
