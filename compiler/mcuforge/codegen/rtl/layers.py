"""Graph nodes -> instances of the Verilog layer templates (templates/rtl/) and the streams that
connect them. Convolutions and pooling are line-buffered window engines whose lanes each
compute reuse-factor output channels in turn; dense layers are input-stationary (a chain of
small ones may share the first one's lanes); a global pooling reduces its input as it streams
in; adds and unfused clamps are elementwise stages; reshapes are the same stream; a tensor read
twice is forked into two FIFOs."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import McuforgeError, UnsupportedOpError
from ...ir.graph import Graph
from ...ir.ops import get_op
from ..fpga.khot import KHOT_MAX, layer_codes

RTL_OPS = ("dense", "conv2d", "maxpool", "avgpool", "add", "sub", "relu", "clip", "reshape", "hardswish", "concat")


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
    cycles: int = 0


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
            "rnd": out.rounding == "rnd", "rne": out.rounding == "rne", "sat": out.overflow == "sat", "lo": lo, "hi": hi,
            "raw_min": out.raw_min, "raw_max": out.raw_max, "sconst": sconst}


def _shift_ctx(shifts: np.ndarray, lanes: int) -> dict:
    """Per-channel power-of-two weight scales (node attribute weight_shift): lane j's left shifts
    of its products' sum, one per output group, applied once before the requantization; channel c
    is lane c % lanes, group c // lanes."""
    shifts = np.asarray(shifts, np.int64).reshape(-1)
    if not shifts.any():
        return {"w_shift": False}
    return {"w_shift": True, "s_w": max(1, int(shifts.max()).bit_length()),
            "s_lanes": [shifts[j::lanes].tolist() for j in range(lanes)]}


def _lut_int4(nodes, codes) -> bool:
    """int4 weight layers multiply by shift-and-add of the weight's 4 bits in LUTs (mul_w4), so no
    DSP48 is spent on a 4-bit operand."""
    return codes is None and all(n.attrs.get("weight_bits") == 4 for n in nodes)


class RtlDesign:
    """`reuse` R sets the throughput: the slowest window layer at cout/R lanes (each lane computing
    R output channels in turn) fixes the cycles per frame T. With `balance`, every other layer gets
    the fewest lanes (a divisor of its cout) that still finish a frame within T, so no MAC array
    idles waiting for a slower neighbour and the design's MAC units match its throughput; a dense
    layer too small for a lane of its own runs on the previous dense layer's lanes
    (`_plan_chains`)."""

    def __init__(self, g: Graph, reuse: int, name: str, balance: bool = True, khot_max: int = KHOT_MAX):
        self.g, self.reuse, self.name, self.balance = g, reuse, name, balance
        self.khot_max = khot_max
        self.khot: dict[str, dict] = {}  # layer module -> K-hot codes used (shift-add products)
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
        self.chain_of: dict[str, list] = {}  # first dense layer of a chain -> the chain's nodes
        self.fused: set[str] = set()  # dense layers that run on a previous layer's lanes
        if balance:
            self._plan_chains()
        self.input_stream = self._stream(g.inputs[0], readers)
        # earliest cycles at which a tensor's first and last elements can be on its stream
        self.avail = {g.inputs[0]: (1, g.tensors[g.inputs[0]].size)}
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

    # -- dense chains --------------------------------------------------------------------------
    def _layer_time(self, node) -> tuple[int, int, int]:
        """(lanes, cycles per frame, MAC units) of a layer as built on its own."""
        if node.op in ("dense", "conv2d", "maxpool", "avgpool"):
            geo, mode, k = self._geometry(node)
            lanes = self._balanced_lanes(node, geo, k)
            t = geo["oh"] * geo["ow"] * k * (geo["cout"] // lanes)
            if self._global_pool(node, geo):
                t = geo["h"] * geo["w"] * geo["cin"]  # one element per beat
            return lanes, t, lanes if mode in ("conv", "dw") else 0
        return 0, self.g.tensors[node.outputs[0]].size, 0  # elementwise: one element per beat

    def _only_reader(self, tensor: str):
        readers = [n for n in self.g.topo_order() if n.op != "reshape"
                   and any(t and self.alias.get(t, t) == tensor for t in n.inputs)]
        outs = {self.alias.get(o, o) for o in self.g.outputs}
        return readers[0] if len(readers) == 1 and tensor not in outs else None

    def _plan_chains(self):
        """A dense layer whose MACs are few next to the frame (e.g. the 32 -> 8 layer after a
        256 -> 32 one) would idle its lanes most of the frame, and since a layer has at least one
        lane, the design would have more MAC units than its throughput needs. Such a layer runs on
        the previous dense layer's lanes, after that layer's last input, when this raises the MAC
        units' utilization (fewer units x cycles per frame) of the whole design."""
        nodes = [n for n in self.g.topo_order() if n.op != "reshape"]
        info = {n.name: self._layer_time(n) for n in nodes}
        n_in = self.g.tensors[self.g.inputs[0]].size
        time = {name: t for name, (_, t, _) in info.items()}
        units = sum(u for _, _, u in info.values())
        for head in nodes:
            if head.op != "dense" or head.name in self.fused:
                continue
            lanes = info[head.name][0]
            chain, cur = [head], head
            while True:
                nxt = self._only_reader(self.alias.get(cur.outputs[0], cur.outputs[0]))
                if nxt is None or nxt.op != "dense":
                    break
                m, k = self.g.tensors[nxt.inputs[1]].shape
                if m % lanes:
                    break
                t_now = max([n_in] + list(time.values()))
                new_time = dict(time)
                new_time[head.name] += 1 + k * (m // lanes)  # one bubble, then its MACs on our lanes
                del new_time[nxt.name]
                t_new = max([n_in] + list(new_time.values()))
                u_new = units - info[nxt.name][2]
                if u_new * t_new >= units * t_now:
                    break
                time, units = new_time, u_new
                chain.append(nxt)
                self.fused.add(nxt.name)
                cur = nxt
            if len(chain) > 1:
                self.chain_of[head.name] = chain
        if self.fused:
            self.frame_cycles = max(time.values())

    # -- layers --------------------------------------------------------------------------------
    def _add(self, node, readers):
        if node.op not in RTL_OPS:
            raise UnsupportedOpError(node.op, node.name, "the RTL layer library has " + ", ".join(RTL_OPS))
        if node.op == "reshape" or node.name in self.fused:
            return
        ins = [self._take(t) for t in node.inputs if t and not self.g.tensors[t].is_const]
        p = get_op(node.op).fixed_params(node, self.g)
        module = f"{self.name}_l{len(self.layers) + 1}"
        if node.op == "dense":
            layer = self._dense(self.chain_of.get(node.name, [node]), module)
            ports = [("in_valid", f"s{ins[0]}_valid"), ("in_ready", f"s{ins[0]}_ready"), ("in_data", f"s{ins[0]}_data")]
        elif node.op in ("conv2d", "maxpool", "avgpool"):
            layer = self._window(node, p, module)
            ports = [("in_valid", f"s{ins[0]}_valid"), ("in_ready", f"s{ins[0]}_ready"), ("in_data", f"s{ins[0]}_data")]
        else:
            layer = self._concat(node, p, module) if node.op == "concat" else self._elementwise(node, p, module)
            names = ("a", "b")
            ports = [pt for i, s in enumerate(ins) for pt in (
                (f"{names[i]}_valid", f"s{s}_valid"), (f"{names[i]}_ready", f"s{s}_ready"), (f"{names[i]}_data", f"s{s}_data"))]
        self.layers.append(layer)
        out_tensor = self.chain_of.get(node.name, [node])[-1].outputs[0]
        in_times = [self.avail[self.alias.get(t, t)] for t in node.inputs if t and not self.g.tensors[t].is_const]
        layer.cycles, self.avail[out_tensor] = self._timing(layer, in_times)
        out = self._stream(out_tensor, readers)
        self.instances.append(Instance(module, f"u_l{len(self.layers)}", [("clk", "clk"), ("rst", "rst")] + ports + [
            ("out_valid", f"s{out}_valid"), ("out_ready", f"s{out}_ready"), ("out_data", f"s{out}_data")]))

    @staticmethod
    def _timing(layer, in_times) -> tuple[int, tuple[int, int]]:
        """(cycles of work per frame, (first, last) earliest output cycles) of a layer given its
        inputs' earliest (first, last) cycles: lower bounds for this architecture (one element per
        beat, raster order, the layer's own lanes), used by `latency_bound`."""
        c = layer.ctx
        first_in = max(f for f, _ in in_times)
        last_in = max(l for _, l in in_times)
        if layer.template == "rtl/dense_layer.v.j2":
            st0 = c["stages"][0]
            # input-stationary: after the last element only its own groups remain; but the
            # whole reduction cannot start before the first element
            done = max(last_in + st0["groups"], first_in + st0["k"] * st0["groups"])
            done += sum(1 + s["k"] * s["groups"] for s in c["stages"][1:])
            cycles = sum(s["k"] * s["groups"] for s in c["stages"]) + len(c["stages"]) - 1
            n = c["stages"][-1]["cout"]
            return cycles, (done + 1, done + n)  # the outputs leave one per beat
        if layer.template == "rtl/global_pool_layer.v.j2":
            n = c["h"] * c["w"] * c["cin"]
            return n, (max(last_in, first_in + n - 1) + 1, max(last_in, first_in + n - 1) + c["cout"])
        if layer.template == "rtl/window_layer.v.j2":
            per_px = c["groups"] * c["k"]
            cycles = c["oh"] * c["ow"] * per_px
            # raster order: from the first output whose window holds the last input pixel on,
            # every output waits for that pixel
            r0 = next((r for r in range(c["oh"]) if r * c["sh"] - c["pt"] + c["kh"] - 1 >= c["h"] - 1), c["oh"])
            c0 = next((q for q in range(c["ow"]) if q * c["sw"] - c["pl"] + c["kw"] - 1 >= c["w"] - 1), c["ow"])
            tail = max(0, (c["oh"] - r0) * c["ow"] - c0) * per_px
            done = max(last_in + tail, first_in + cycles)
            return cycles, (first_in + per_px + 1, done + c["lanes"])
        n = c["n_elem"]
        return n, (first_in + 1, max(last_in, first_in + n - 1) + 1)

    def latency_bound(self) -> int:
        """Cycles until the last output of one lone inference can leave, at the earliest, in a
        layer-pipelined design with these lanes: a layer overlaps with its producer only as far as
        its data dependences allow (a dense layer's outputs exist only after its last input; a
        window layer's last outputs wait for the last input rows)."""
        out = self.alias.get(self.g.outputs[0], self.g.outputs[0])
        return self.avail[out][1]

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
        if self._global_pool(node, geo):
            return 1
        per_group = geo["oh"] * geo["ow"] * k
        for d in range(1, lanes + 1):
            if geo["cout"] % d == 0 and per_group * (geo["cout"] // d) <= self.frame_cycles:
                return d
        return lanes

    @staticmethod
    def _global_pool(node, geo) -> bool:
        """A pooling whose one window is the whole unpadded input: reduced as it streams in."""
        return (node.op in ("maxpool", "avgpool") and geo["oh"] == geo["ow"] == 1 and geo["kh"] == geo["h"]
                and geo["kw"] == geo["w"] and geo["pt"] == geo["pl"] == 0)

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
        ctx = {"module": module, "node": node.name, "in_w": xt.width, "out_w": yt.width, "khot": 0,
               "mul4": False, "w_shift": False}
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
            shifts = np.asarray(node.attrs.get("weight_shift") or [0] * geo["cout"], np.int64)
            bias = np.asarray(bias, np.int64) >> shifts  # the sum starts at bias >> s_c (a multiple)
            codes = layer_codes([node], wt.data, self.khot_max)
            if codes:
                self.khot[module] = codes.describe()
                wf = np.vectorize(codes.rtl_word, otypes=[object])(wf)
            ctx.update(_shift_ctx(shifts, lanes), mul4=_lut_int4([node], codes))
            ctx.update(w_w=wt.meta["fixed"].width, khot=codes.k if codes else 0,
                       sb=codes.shift_bits if codes else 0, cw=codes.word_bits if codes else 0,
                       ms=codes.max_shift if codes else 0,
                       w_lanes=[wf[j::lanes].reshape(-1).tolist() for j in range(lanes)],
                       b_lanes=[bias[j::lanes].tolist() for j in range(lanes)])
            ctx.update(_requant_ctx(p["acc_width"], p["acc_frac"] - yt.frac, yt, p["act_lo"], p["act_hi"]))
        elif mode == "max":
            ctx.update(acc_min=xt.raw_min, **_requant_ctx(xt.width, 0, yt, p["act_lo"], p["act_hi"]))
        else:
            ctx.update(_requant_ctx(p["acc_width"], p["in_frac"] + p["shift"] - yt.frac, yt, p["act_lo"], p["act_hi"]))
        macs = get_op(node.op).macs(node, g)
        if self._global_pool(node, geo):
            return RtlLayer(module, "rtl/global_pool_layer.v.j2", ctx, macs, 0)
        return RtlLayer(module, "rtl/window_layer.v.j2", ctx, macs, lanes if mode in ("conv", "dw") else 0)

    def _dense(self, chain, module) -> RtlLayer:
        """One input-stationary dense module for a chain of dense layers sharing the first
        layer's lanes (usually a chain of one)."""
        g = self.g
        geo, _, _ = self._geometry(chain[0])
        lanes = self._balanced_lanes(chain[0], geo, geo["cin"])
        stages, words, b_lanes = [], [], [[] for _ in range(lanes)]
        n_groups = 0
        for node in chain:
            p = get_op(node.op).fixed_params(node, g)
            xt, yt = g.tensors[node.inputs[0]].meta["fixed"], g.tensors[node.outputs[0]].meta["fixed"]
            wt = g.tensors[node.inputs[1]]
            m, k = wt.shape
            bias = (g.tensors[node.inputs[2]].data if len(node.inputs) > 2 and node.inputs[2]
                    else np.zeros(m, np.int64))
            shifts = np.asarray(node.attrs.get("weight_shift") or [0] * m, np.int64)
            st = dict(node=node.name, k=k, cout=m, groups=m // lanes, in_w=xt.width, w_w=wt.meta["fixed"].width,
                      w_base=len(words), g_base=n_groups, w=wt.data.reshape(m, k).astype(np.int64),
                      bias=np.asarray(bias, np.int64) >> shifts, shifts=shifts)
            st.update(_requant_ctx(p["acc_width"], p["acc_frac"] - yt.frac, yt, p["act_lo"], p["act_hi"]))
            stages.append(st)
            words += [None] * (st["groups"] * k)
            n_groups += st["groups"]
        ww = max(st["w_w"] for st in stages)
        codes = layer_codes(chain, np.concatenate([st["w"].reshape(-1) for st in stages]), self.khot_max)
        if codes:  # K-hot: a word field holds the weight's (present, negative, shift) terms
            self.khot[module] = codes.describe()
            ww = codes.word_bits
            for st in stages:
                st["w"] = np.vectorize(codes.rtl_word, otypes=[object])(st["w"])
        mask = (1 << ww) - 1
        s_all = []  # each group's shifts in lane order, over the chain (as the bias ROMs)
        for st in stages:
            for gi in range(st["groups"]):
                for j in range(lanes):
                    b_lanes[j].append(int(st["bias"][gi * lanes + j]))
                s_all.append(st["shifts"][gi * lanes:(gi + 1) * lanes])
                for ki in range(st["k"]):  # issue order: input-major, group-minor
                    word = 0
                    for j in range(lanes):
                        word |= (int(st["w"][gi * lanes + j, ki]) & mask) << (j * ww)
                    words[st["w_base"] + ki * st["groups"] + gi] = f"{word:0{(lanes * ww + 3) // 4}x}"
            del st["w"], st["bias"], st["shifts"]
        s_all = np.concatenate(s_all)  # [group][lane], flat: the chain's channels in group order
        ctx = {"module": module, "node": "+".join(n.name for n in chain), "nodes": [n.name for n in chain],
               "stages": stages, "lanes": lanes, "ww": ww, "aw": max(st["acc_w"] for st in stages),
               "xw": max(st["in_w"] for st in stages), "n_groups": n_groups, "w_words": words,
               "b_lanes": b_lanes, "sconst": sconst, "wa_w": max(1, (len(words) - 1).bit_length()),
               "khot": codes.k if codes else 0, "sb": codes.shift_bits if codes else 0,
               "ms": codes.max_shift if codes else 0, "mul4": _lut_int4(chain, codes)}
        ctx.update(_shift_ctx(s_all.reshape(-1), lanes))
        macs = sum(get_op(n.op).macs(n, g) for n in chain)
        return RtlLayer(module, "rtl/dense_layer.v.j2", ctx, macs, lanes)

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
        elif node.op == "hardswish":
            from ...reference.fixed_arith import hardswish_div3
            d = hardswish_div3(p["n_width"])
            ctx.update(two_inputs=False, up=p["up"], three=p["three"], six=p["six"], n_shift=p["n_shift"],
                       x1_w=at.width + p["up"], n_w=p["n_width"], b=d["b"], s=d["s"], m=d["m"],
                       **_requant_ctx(d["b"] + 4, p["z_frac"] - yt.frac, yt, p["act_lo"], p["act_hi"]))
        else:
            ctx.update(two_inputs=False, **_requant_ctx(at.width, 0, yt, p["act_lo"], p["act_hi"]))
        return RtlLayer(module, "rtl/elementwise_layer.v.j2", ctx)

    def _concat(self, node, p, module) -> RtlLayer:
        """Two streams joined block by block: chunk_a elements of a, then chunk_b of b, each
        requantized from its own binary point to the output type."""
        g = self.g
        if len(node.inputs) != 2:
            raise UnsupportedOpError("concat", node.name, f"{len(node.inputs)} inputs (the RTL library joins two)")
        out = g.tensors[node.outputs[0]]
        yt = out.meta["fixed"]
        axis = node.attrs["axis"] % len(out.shape)
        outer = int(np.prod(out.shape[:axis]))
        ts = [g.tensors[t] for t in node.inputs]
        sides = [dict(_requant_ctx(t.meta["fixed"].width, f - yt.frac, yt, p["act_lo"], p["act_hi"]),
                      fn=f"requant_{n}", chunk=t.size // outer) for n, t, f in zip("ab", ts, p["in_fracs"])]
        ctx = {"module": module, "node": node.name, "n_elem": out.size, "out_w": yt.width, "outer": outer,
               "sides": sides, "a_w": sides[0]["acc_w"], "b_w": sides[1]["acc_w"], "sconst": sconst,
               "cw": max(1, (sides[0]["chunk"] + sides[1]["chunk"] - 1).bit_length() + 1)}
        return RtlLayer(module, "rtl/concat_layer.v.j2", ctx)

    @property
    def mac_units(self) -> int:
        return sum(l.mac_units for l in self.layers)

    @property
    def macs(self) -> int:
        return sum(l.macs for l in self.layers if l.mac_units)
