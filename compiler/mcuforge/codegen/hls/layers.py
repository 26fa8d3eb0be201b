"""Graph nodes -> calls of the nnet:: HLS layer library, with their config structs, type
bindings and weights. Reshapes are aliases (NHWC order does not change); a tensor read by two
layers is cloned, because a DATAFLOW channel has exactly one consumer."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import McuforgeError, UnsupportedOpError
from ...ir.graph import Graph
from ...ir.ops import get_op
from ...reference.fixed_arith import FixedType
from ..fpga.khot import KHOT_MAX, layer_codes
from ..fpga.literals import accum_type, ap_fixed_type, exact_literal


@dataclass
class Layer:
    index: int
    node: str
    kind: str  # the nnet:: function
    inputs: list[str]  # array variables read
    output: str  # array variable written
    config: dict = field(default_factory=dict)
    typedefs: dict = field(default_factory=dict)
    weights: bool = False
    partition: int = 1
    clamp_lo: bool = False
    clamp_hi: bool = False
    act_lo: str = "0.0"
    act_hi: str = "0.0"
    reals: dict = field(default_factory=dict)  # exact double constants of the config struct
    shifts: list | None = None  # per output channel: left shift of its products' sum (sub-byte scales)


def _clamp(layer: Layer, p: dict, t: FixedType):
    layer.clamp_lo = p["act_lo"] > t.raw_min
    layer.clamp_hi = p["act_hi"] < t.raw_max
    layer.act_lo = exact_literal(p["act_lo"], t.frac)
    layer.act_hi = exact_literal(p["act_hi"], t.frac)


def _reuse_divides(node, reuse: int, total: int, what: str):
    if total % reuse:
        raise McuforgeError(f"reuse factor {reuse} does not divide {node.op} {node.name}'s {what} ({total})")


class HlsLayers:
    def __init__(self, g: Graph, reuse: int, khot_max: int = KHOT_MAX):
        self.g = g
        self.reuse = reuse
        self.khot_max = khot_max
        self.khot: dict[str, dict] = {}  # node -> K-hot codes (shift-add products)
        self.var = {g.inputs[0]: "x"}
        self.type_of_var = {"x": "input_t"}
        self.layers: list[Layer] = []
        self.weights: list[dict] = []  # {var, ctype, values, count, node, what}
        for node in g.topo_order():
            self._add(node)

    def fixed(self, name: str) -> FixedType:
        return self.g.tensors[name].meta["fixed"]

    def _new_layer(self, node, kind: str) -> Layer:
        i = len(self.layers) + 1
        out = f"layer{i}_out"
        self.var[node.outputs[0]] = out
        self.type_of_var[out] = f"layer{i}_t"
        layer = Layer(i, node.name, kind, [self.var[t] for t in node.inputs if t and not self.g.tensors[t].is_const], out)
        self.layers.append(layer)
        return layer

    def _add(self, node):
        g = self.g
        op = get_op(node.op)
        if node.op == "reshape":
            self.var[node.outputs[0]] = self.var[node.inputs[0]]
            return
        p = op.fixed_params(node, g)
        out_t = self.fixed(node.outputs[0])
        if node.op == "dense":
            self._dense(node, p)
        elif node.op == "conv2d":
            self._conv(node, p)
        elif node.op in ("maxpool", "avgpool"):
            self._pool(node, p)
        elif node.op in ("add", "sub"):
            a, b = (g.tensors[t].shape for t in node.inputs)
            if a != b:
                raise UnsupportedOpError(node.op, node.name, f"broadcasting {a} with {b} is not in the HLS library")
            layer = self._new_layer(node, "add" if node.op == "add" else "subtract")
            layer.config = {"n_elem": g.tensors[node.outputs[0]].size}
        elif node.op == "hardswish":
            self._hardswish(node, p)
        elif node.op == "concat":
            self._concat(node)
        elif node.op in ("relu", "clip"):
            layer = self._new_layer(node, "clamp")
            layer.config = {"n_elem": g.tensors[node.outputs[0]].size}
        else:
            raise UnsupportedOpError(node.op, node.name, "not in the HLS layer library")
        _clamp(self.layers[-1], p, out_t)

    def _weights(self, layer: Layer, node, p: dict, count_out: int):
        g = self.g
        w = g.tensors[node.inputs[1]]
        wt = w.meta["fixed"]
        bt = FixedType(p["acc_width"], p["acc_frac"])
        if len(node.inputs) > 2 and node.inputs[2]:
            b = g.tensors[node.inputs[2]]
            bias_raw, bt = b.data, b.meta["fixed"]
        else:
            bias_raw = np.zeros(count_out, np.int64)
        shifts = node.attrs.get("weight_shift")
        if shifts:  # per-channel power-of-two scales: the sum starts at bias >> s_c, then shifts left by s_c
            layer.shifts = [int(v) for v in shifts]
            bias_raw = np.asarray(bias_raw, np.int64) >> np.asarray(shifts, np.int64)
        codes = layer_codes([node], w.data, self.khot_max)
        bits = node.attrs.get("weight_bits")
        w_raw, w_fixed, w_what = w.data, wt, "int4 weights in [-7, 7] (4-bit multiplier operands, in LUTs)" if bits == 4 else "weights"
        if codes:  # K-hot: K signed (shift + 1) terms per weight, products by shift and add
            self.khot[node.name] = codes.describe()
            w_raw, w_fixed = codes.hls_terms(w.data), FixedType(codes.term_bits, 0)
            w_what = ("ternary weights in {-1, 0, 1} (products are add / subtract)" if bits == 2
                      else f"K-hot weights ({codes.k} terms +-(shift + 1) each)")
        layer.config.update(khot=codes.k if codes else 0, w_terms=codes.k if codes else 1, w_frac=wt.frac,
                            w_shift=int(bool(shifts)), mul_fabric=int(bits == 4 and not codes))
        w_ctype = f"ap_int<{codes.term_bits}>" if codes else ap_fixed_type(wt)
        layer.typedefs.update(weight_t=w_ctype, bias_t=ap_fixed_type(bt),
                              accum_t=accum_type(p["acc_width"], p["acc_frac"]))
        layer.weights = True
        self.weights.append({"var": f"w{layer.index}", "ctype": w_ctype, "raw": w_raw, "fixed": w_fixed,
                             "node": node.name, "what": w_what})
        self.weights.append({"var": f"b{layer.index}", "ctype": ap_fixed_type(bt), "raw": bias_raw, "fixed": bt,
                             "node": node.name,
                             "what": "biases >> the channel's weight shift" if shifts else "biases"})

    def _dense(self, node, p):
        x = self.g.tensors[node.inputs[0]]
        m, k = self.g.tensors[node.inputs[1]].shape
        if int(np.prod(x.shape[:-1])) != 1:
            raise UnsupportedOpError("dense", node.name, f"input {x.shape} must be one vector")
        _reuse_divides(node, self.reuse, m * k, "n_in * n_out")
        layer = self._new_layer(node, "dense")
        layer.config = {"n_in": k, "n_out": m, "reuse_factor": self.reuse, "n_mult": m * k // self.reuse}
        layer.partition = m * k // self.reuse
        self._weights(layer, node, p, m)

    def _conv(self, node, p):
        a = node.attrs
        _, h, w, c = self.g.tensors[node.inputs[0]].shape
        _, oh, ow, f = self.g.tensors[node.outputs[0]].shape
        cout, kh, kw, cg = self.g.tensors[node.inputs[1]].shape
        if tuple(a["dilations"]) != (1, 1):
            raise UnsupportedOpError("conv2d", node.name, f"dilations {a['dilations']} are not in the HLS library")
        _reuse_divides(node, self.reuse, kh * kw * cg * f, "products per output pixel (kh * kw * cin/groups * cout)")
        depthwise = a["groups"] == c and cg == 1 and c > 1 and f == c
        layer = self._new_layer(node, "depthwise_conv2d" if depthwise else "conv2d")
        t, l, b, r = a["pads"]
        layer.config = {"in_h": h, "in_w": w, "n_chan": c, "out_h": oh, "out_w": ow, "n_filt": f,
                        "filt_h": kh, "filt_w": kw, "chan_per_group": cg, "groups": a["groups"],
                        "stride_h": a["strides"][0], "stride_w": a["strides"][1],
                        "pad_top": t, "pad_left": l, "pad_bottom": b, "pad_right": r,
                        "reuse_factor": self.reuse}
        layer.partition = max(1, kh * kw * cg * f // self.reuse // f)
        self._weights(layer, node, p, f)

    def _pool(self, node, p):
        a = node.attrs
        _, h, w, c = self.g.tensors[node.inputs[0]].shape
        _, oh, ow, _ = self.g.tensors[node.outputs[0]].shape
        if tuple(a["dilations"]) != (1, 1):
            raise UnsupportedOpError(node.op, node.name, "dilated pooling is not in the HLS library")
        layer = self._new_layer(node, "maxpool2d" if node.op == "maxpool" else "avgpool2d")
        layer.config = {"in_h": h, "in_w": w, "n_chan": c, "out_h": oh, "out_w": ow,
                        "pool_h": a["kernel"][0], "pool_w": a["kernel"][1],
                        "stride_h": a["strides"][0], "stride_w": a["strides"][1],
                        "pad_top": a["pads"][0], "pad_left": a["pads"][1], "reuse_factor": 1}
        if node.op == "avgpool":
            t = self.fixed(node.inputs[0])
            layer.config["shift"] = p["shift"]
            layer.typedefs.update(accum_t=accum_type(t.width + p["shift"], t.frac),
                                  scale_t=f"ap_fixed<2, {2 - p['shift']}>")

    def _hardswish(self, node, p):
        """fixed_arith's rule: x at F1 (x1_t), x + 3 clamped to [0, 6] (sum_t -> t_t), the integer
        n = x1 * t * 2^(E - 1) (n_t, exact), floor(n / 3) and its sticky bit in 64-bit integers,
        z = 2 q + s scaled by 2^-(E + 1) (zscale_t) and cast to the output type."""
        from ...reference.fixed_arith import MAX_WIDTH
        x = self.fixed(node.inputs[0])
        f1 = x.frac + p["up"]
        ib = max(x.int_bits, 3) + 1
        e = p["z_frac"] - 1
        nw = p["n_width"]
        if nw + 2 > MAX_WIDTH:
            raise McuforgeError(f"hardswish {node.name}: {nw}-bit product; the HLS layer carries 62 bits")
        layer = self._new_layer(node, "hardswish")
        layer.config = {"n_elem": self.g.tensors[node.outputs[0]].size}
        layer.typedefs = {"x1_t": f"ap_fixed<{x.int_bits + f1}, {x.int_bits}>", "sum_t": f"ap_fixed<{ib + f1}, {ib}>",
                          "t_t": f"ap_fixed<{f1 + 4}, 4>", "n_t": f"ap_fixed<{nw}, {nw}>",
                          "pow_t": f"ap_fixed<{e + 1}, {e + 1}>", "z_t": f"ap_fixed<{nw + 2}, {nw + 2}>",
                          "zscale_t": f"ap_fixed<2, {1 - e}>"}
        layer.reals = {"n_scale": exact_literal(1 << (e - 1), 0), "z_scale": exact_literal(1, e + 1)}

    def _concat(self, node):
        g = self.g
        out = g.tensors[node.outputs[0]]
        if len(node.inputs) != 2:
            raise UnsupportedOpError("concat", node.name, f"{len(node.inputs)} inputs (the HLS library joins two)")
        axis = node.attrs["axis"] % len(out.shape)
        outer = int(np.prod(out.shape[:axis]))
        layer = self._new_layer(node, "concatenate")
        layer.config = {"outer": outer, "chunk_a": g.tensors[node.inputs[0]].size // outer,
                        "chunk_b": g.tensors[node.inputs[1]].size // outer}

    # -- the top function's body ---------------------------------------------------------------
    def calls(self) -> tuple[list[str], list[dict]]:
        """C++ statements in order, and the clone arrays they need."""
        reads: dict[str, int] = {}
        for layer in self.layers:
            for v in layer.inputs:
                reads[v] = reads.get(v, 0) + 1
        final = self.var[self.g.outputs[0]]
        reads[final] = reads.get(final, 0) + 1
        copies: dict[str, list[str]] = {}
        stmts, clone_arrays = [], []
        sizes = self._sizes()

        def clone(v):
            if reads.get(v, 0) > 2:
                raise McuforgeError(f"tensor {v} is read by {reads[v]} layers; the HLS backend clones at most two ways")
            if reads.get(v, 0) == 2:
                a, b = f"{v}_cpy1", f"{v}_cpy2"
                for c in (a, b):
                    clone_arrays.append({"var": c, "ctype": self.type_of_var[v], "size": sizes[v], "partition": 1})
                stmts.append(f"nnet::clone<{self.type_of_var[v]}, {sizes[v]}>({v}, {a}, {b})")
                copies[v] = [a, b]

        clone("x")
        for layer in self.layers:
            ins = [copies[v].pop(0) if v in copies else v for v in layer.inputs]
            targs = ", ".join([self.type_of_var[v] for v in layer.inputs] + [self.type_of_var[layer.output], f"config{layer.index}"])
            args = ins + [layer.output] + ([f"w{layer.index}", f"b{layer.index}"] if layer.weights else [])
            stmts.append(f"nnet::{layer.kind}<{targs}>({', '.join(args)})")
            clone(layer.output)
        self.final_var = copies[final].pop(0) if final in copies else final
        return stmts, clone_arrays

    def _sizes(self) -> dict[str, int]:
        sizes = {}
        for t, v in self.var.items():
            sizes.setdefault(v, self.g.tensors[t].size)
        return sizes

    def arrays(self) -> list[dict]:
        sizes = self._sizes()
        return [{"var": l.output, "ctype": self.type_of_var[l.output], "size": sizes[l.output],
                 "partition": max(1, min(l.partition, sizes[l.output]))} for l in self.layers]

    def typedefs(self) -> list[dict]:
        inv = {}
        for t, v in self.var.items():
            inv.setdefault(v, t)
        out = [{"name": "input_t", "ctype": ap_fixed_type(self.fixed(self.g.inputs[0])), "comment": self.g.inputs[0]}]
        for l in self.layers:
            t = inv[l.output]
            out.append({"name": self.type_of_var[l.output], "ctype": ap_fixed_type(self.fixed(t)), "comment": f"{t} ({l.kind})"})
        res = self.g.outputs[0]
        out.append({"name": "result_t", "ctype": ap_fixed_type(self.fixed(res)), "comment": res})
        return out
