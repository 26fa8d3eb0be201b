"""Graph nodes -> instances of the Verilog layer templates (templates/rtl/) and the streams that
connect them. Every MAC layer and pooling layer is a line-buffered window engine whose lanes
each compute reuse-factor output channels in turn; adds and unfused clamps are elementwise
stages; reshapes are the same stream; a tensor read twice is forked into two FIFOs."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import McuforgeError, UnsupportedOpError
from ...ir.graph import Graph
from ...ir.ops import get_op

RTL_OPS = ("dense", "conv2d", "maxpool", "avgpool", "add", "sub", "relu", "clip", "reshape")


@dataclass
class Stream:
    id: int
    width: int
    comment: str


@dataclass
class RtlLayer:
    module: str
    template: str
    ctx: dict
    macs: int = 0
    mac_units: int = 0


@dataclass
class Instance:
    module: str
    name: str
    ports: list
    params: dict = field(default_factory=dict)


def sconst(v: int, width: int) -> str:
    """A signed Verilog constant of `width` bits (width one more than the value needs)."""
    v = int(v)
    return f"-{width}'sd{-v}" if v < 0 else f"{width}'sd{v}"


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _requant_ctx(acc_w: int, shift: int, out, lo: int, hi: int) -> dict:
    return {"acc_w": acc_w, "out_w": out.width, "rw": acc_w + 2 + max(0, -shift), "shift": shift,
            "rnd": out.rounding == "rnd", "sat": out.overflow == "sat", "lo": lo, "hi": hi,
            "raw_min": out.raw_min, "raw_max": out.raw_max, "sconst": sconst}


class RtlDesign:
    """`reuse` R sets the throughput: the slowest window layer at cout/R lanes (each lane computing
    R output channels in turn) fixes the cycles per frame T. With `balance`, every other layer gets
    the fewest lanes (a divisor of its cout) that still finish a frame within T, so no MAC array
    idles waiting for a slower neighbour and the design's MAC units match its throughput."""

    def __init__(self, g: Graph, reuse: int, name: str, balance: bool = True):
        self.g, self.reuse, self.name, self.balance = g, reuse, name, balance
        self.layers: list[RtlLayer] = []
        self.streams: list[Stream] = []
        self.instances: list[Instance] = []
        self.stream_of: dict[str, int] = {}
        readers = self._readers()
        self.frame_cycles = 0
        for node in g.topo_order():
            if node.op in ("dense", "conv2d", "maxpool", "avgpool"):
                geo, mode, k = self._geometry(node)
                lanes = self._lanes(node, geo["cout"])
                self.frame_cycles = max(self.frame_cycles, geo["oh"] * geo["ow"] * k * (geo["cout"] // lanes))
        self.input_stream = self._stream(g.inputs[0], readers)
        for node in g.topo_order():
            self._add(node, readers)
        self.output_stream = self._take(g.outputs[0])

    # -- streams -------------------------------------------------------------------------------
    def _readers(self) -> dict[str, int]:
        alias = {}
        for n in self.g.topo_order():
            if n.op == "reshape":
                alias[n.outputs[0]] = alias.get(n.inputs[0], n.inputs[0])
        count: dict[str, int] = {}
        for n in self.g.topo_order():
            if n.op != "reshape":
                for t in n.inputs:
                    if t and not self.g.tensors[t].is_const:
                        count[alias.get(t, t)] = count.get(alias.get(t, t), 0) + 1
        out = self.g.outputs[0]
        count[alias.get(out, out)] = count.get(alias.get(out, out), 0) + 1
        self.alias = alias
        return count

    def _new(self, width: int, comment: str) -> int:
        s = Stream(len(self.streams), width, comment)
        self.streams.append(s)
        return s.id

    def _stream(self, tensor: str, readers: dict) -> int:
        """A new stream for a tensor; forked into two FIFO-buffered branches if read twice."""
        t = self.g.tensors[tensor]
        width = t.meta["fixed"].width
        sid = self._new(width, f"{tensor} {t.meta['fixed']}")
        n = readers.get(tensor, 0)
        if n > 2:
            raise McuforgeError(f"tensor {tensor} is read by {n} layers; the RTL backend forks at most two ways")
        if n == 2:
            a, b, fa, fb = (self._new(width, f"{tensor} branch {i}") for i in range(4))
            self.instances.append(Instance("mcf_stream_fork", f"fork_s{sid}", [
                ("in_valid", f"s{sid}_valid"), ("in_ready", f"s{sid}_ready"), ("in_data", f"s{sid}_data"),
                ("a_valid", f"s{a}_valid"), ("a_ready", f"s{a}_ready"), ("a_data", f"s{a}_data"),
                ("b_valid", f"s{b}_valid"), ("b_ready", f"s{b}_ready"), ("b_data", f"s{b}_data")],
                {"WIDTH": width}))
            for src, dst in ((a, fa), (b, fb)):
                self.instances.append(Instance("mcf_stream_fifo", f"fifo_s{dst}", [
                    ("clk", "clk"), ("rst", "rst"),
                    ("in_valid", f"s{src}_valid"), ("in_ready", f"s{src}_ready"), ("in_data", f"s{src}_data"),
                    ("out_valid", f"s{dst}_valid"), ("out_ready", f"s{dst}_ready"), ("out_data", f"s{dst}_data")],
                    {"WIDTH": width, "DEPTH": t.size}))
            self.stream_of[tensor] = [fa, fb]
        else:
            self.stream_of[tensor] = [sid]
        return sid

    def _take(self, tensor: str) -> int:
        tensor = self.alias.get(tensor, tensor)
        return self.stream_of[tensor].pop(0)

    # -- layers --------------------------------------------------------------------------------
    def _add(self, node, readers):
        if node.op not in RTL_OPS:
            raise UnsupportedOpError(node.op, node.name, "the RTL layer library has " + ", ".join(RTL_OPS))
        if node.op == "reshape":
            return
        ins = [self._take(t) for t in node.inputs if t and not self.g.tensors[t].is_const]
        p = get_op(node.op).fixed_params(node, self.g)
        module = f"{self.name}_l{len(self.layers) + 1}"
        if node.op in ("dense", "conv2d", "maxpool", "avgpool"):
            layer = self._window(node, p, module)
            ports = [("in_valid", f"s{ins[0]}_valid"), ("in_ready", f"s{ins[0]}_ready"), ("in_data", f"s{ins[0]}_data")]
        else:
            layer = self._elementwise(node, p, module)
            names = ("a", "b")
            ports = [pt for i, s in enumerate(ins) for pt in (
                (f"{names[i]}_valid", f"s{s}_valid"), (f"{names[i]}_ready", f"s{s}_ready"), (f"{names[i]}_data", f"s{s}_data"))]
        self.layers.append(layer)
        out = self._stream(node.outputs[0], readers)
        self.instances.append(Instance(module, f"u_l{len(self.layers)}", [("clk", "clk"), ("rst", "rst")] + ports + [
            ("out_valid", f"s{out}_valid"), ("out_ready", f"s{out}_ready"), ("out_data", f"s{out}_data")]))

    def _lanes(self, node, channels: int) -> int:
        if channels % self.reuse:
            raise McuforgeError(f"reuse factor {self.reuse} does not divide {node.op} {node.name}'s "
                                f"{channels} output channels (each lane computes reuse-factor channels)")
        return channels // self.reuse

    def _balanced_lanes(self, node, geo, k) -> int:
        """The fewest lanes (a divisor of cout) that finish a frame within frame_cycles."""
        lanes = self._lanes(node, geo["cout"])
        if not self.balance:
            return lanes
        per_group = geo["oh"] * geo["ow"] * k
        for d in range(1, lanes + 1):
            if geo["cout"] % d == 0 and per_group * (geo["cout"] // d) <= self.frame_cycles:
                return d
        return lanes

    def _geometry(self, node):
        g, a = self.g, node.attrs
        x, y = g.tensors[node.inputs[0]], g.tensors[node.outputs[0]]
        if node.op == "dense":
            m, k = g.tensors[node.inputs[1]].shape
            if int(np.prod(x.shape[:-1])) != 1:
                raise UnsupportedOpError("dense", node.name, f"input {x.shape} must be one vector")
            geo = dict(h=1, w=1, cin=k, kh=1, kw=1, sh=1, sw=1, pt=0, pl=0, oh=1, ow=1, cout=m)
            mode = "conv"
        else:
            _, h, w, c = x.shape
            _, oh, ow, cout = y.shape
            if tuple(a.get("dilations", (1, 1))) != (1, 1):
                raise UnsupportedOpError(node.op, node.name, "dilation is not in the RTL layer library")
            if node.op == "conv2d":
                _, kh, kw, cg = g.tensors[node.inputs[1]].shape
                if a["groups"] == 1:
                    mode = "conv"
                elif a["groups"] == c == cout and cg == 1:
                    mode = "dw"
                else:
                    raise UnsupportedOpError("conv2d", node.name, f"grouped convolution (groups={a['groups']}) "
                                             "is not in the RTL layer library (only groups=1 and depthwise)")
            else:
                kh, kw = a["kernel"]
                mode = "max" if node.op == "maxpool" else "avg"
            geo = dict(h=h, w=w, cin=c, kh=kh, kw=kw, sh=a["strides"][0], sw=a["strides"][1],
                       pt=a["pads"][0], pl=a["pads"][1], oh=oh, ow=ow, cout=cout)
        kc = geo["cin"] if mode == "conv" else 1
        return geo, mode, geo["kh"] * geo["kw"] * kc

    def _window(self, node, p, module) -> RtlLayer:
        g = self.g
        x, y = g.tensors[node.inputs[0]], g.tensors[node.outputs[0]]
        xt, yt = x.meta["fixed"], y.meta["fixed"]
        ctx = {"module": module, "node": node.name, "in_w": xt.width, "out_w": yt.width}
        geo, mode, k = self._geometry(node)
        lanes = self._balanced_lanes(node, geo, k)
        kc = geo["cin"] if mode == "conv" else 1
        ctx.update(geo, kind=node.op, mode=mode, lanes=lanes, groups=geo["cout"] // lanes, k=k, kc=kc,
                   nb=_pow2_at_least(geo["kh"] + geo["sh"]), has_weights=mode in ("conv", "dw"))
        if mode in ("conv", "dw"):
            wt = g.tensors[node.inputs[1]]
            wf = wt.data.reshape(geo["cout"], k)
            bias = (g.tensors[node.inputs[2]].data if len(node.inputs) > 2 and node.inputs[2]
                    else np.zeros(geo["cout"], np.int64))
            ctx.update(w_w=wt.meta["fixed"].width,
                       w_lanes=[wf[j::lanes].reshape(-1).tolist() for j in range(lanes)],
                       b_lanes=[bias[j::lanes].tolist() for j in range(lanes)])
            ctx.update(_requant_ctx(p["acc_width"], p["acc_frac"] - yt.frac, yt, p["act_lo"], p["act_hi"]))
        elif mode == "max":
            ctx.update(acc_min=xt.raw_min, **_requant_ctx(xt.width, 0, yt, p["act_lo"], p["act_hi"]))
        else:
            ctx.update(_requant_ctx(p["acc_width"], p["in_frac"] + p["shift"] - yt.frac, yt, p["act_lo"], p["act_hi"]))
        macs = get_op(node.op).macs(node, g)
        template = "rtl/window_layer.v.j2"
        if node.op == "dense":
            template = "rtl/dense_layer.v.j2"
            ww, groups = ctx["w_w"], ctx["groups"]
            wf = g.tensors[node.inputs[1]].data.reshape(geo["cout"], k).astype(np.int64)
            mask = (1 << ww) - 1
            words = []
            for gi in range(groups):
                for ki in range(k):
                    word = 0
                    for j in range(lanes):
                        word |= (int(wf[gi * lanes + j, ki]) & mask) << (j * ww)
                    words.append(f"{word:0{(lanes * ww + 3) // 4}x}")
            ctx["w_words"] = words
        return RtlLayer(module, template, ctx, macs, lanes if mode in ("conv", "dw") else 0)

    def _elementwise(self, node, p, module) -> RtlLayer:
        g = self.g
        yt = g.tensors[node.outputs[0]].meta["fixed"]
        at = g.tensors[node.inputs[0]].meta["fixed"]
        ctx = {"module": module, "node": node.name, "kind": node.op, "n_elem": g.tensors[node.outputs[0]].size,
               "a_w": at.width}
        if node.op in ("add", "sub"):
            a, b = (g.tensors[t].shape for t in node.inputs)
            if a != b:
                raise UnsupportedOpError(node.op, node.name, f"broadcasting {a} with {b} is not in the RTL library")
            bt = g.tensors[node.inputs[1]].meta["fixed"]
            ctx.update(two_inputs=True, b_w=bt.width, frac=p["acc_frac"], a_shift=p["acc_frac"] - at.frac,
                       b_shift=p["acc_frac"] - bt.frac,
                       **_requant_ctx(p["acc_width"], p["acc_frac"] - yt.frac, yt, p["act_lo"], p["act_hi"]))
        else:
            ctx.update(two_inputs=False, **_requant_ctx(at.width, 0, yt, p["act_lo"], p["act_hi"]))
        return RtlLayer(module, "rtl/elementwise_layer.v.j2", ctx)

    @property
    def mac_units(self) -> int:
        return sum(l.mac_units for l in self.layers)

    @property
    def macs(self) -> int:
        return sum(l.macs for l in self.layers if l.mac_units)
