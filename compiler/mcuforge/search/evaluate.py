"""Evaluating one configuration: quantize the float graph as the configuration says, measure the
int8 golden model's accuracy on the user's labelled data, and compile it for its cost.

Accuracy is the fraction of samples whose argmax over the (single) output matches the label,
computed by the golden model (mcuforge.reference), which the generated C matches bit for bit.
Cost comes from the compile: weight bytes (flash for the weights) and arena bytes; with
measure="qemu" the library is also built and run on an emulated board for executed instructions
and the linked ELF's flash bytes.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from ..errors import McuforgeError
from ..ir.graph import Graph
from ..reference.arith import round_half_away, rounding_mode
from ..ir.ops import get_op
from ..reference.executor import Executor
from .space import calib_options, weight_bits_of


def batched(g: Graph, n: int) -> Graph:
    """A copy of g that runs n samples at once in the golden model: the device graph's batch axis
    is 1, and every kernel of the reference is batch-agnostic except reshape, whose target
    shape carries that 1 (tests/search checks the result equals n single runs)."""
    b = g.copy()
    for name in b.inputs:
        t = b.tensors[name]
        if not t.shape or t.shape[0] != 1:
            raise McuforgeError(f"input {name} of shape {t.shape} has no batch axis of 1")
        t.shape = (n,) + tuple(t.shape[1:])
    for node in b.nodes.values():
        if node.op == "reshape" and tuple(node.attrs["shape"])[:1] == (1,):
            node.attrs = dict(node.attrs, shape=(-1,) + tuple(node.attrs["shape"])[1:])
    return b


def _digest(h, v) -> None:
    """Feed a value (arrays, numbers, strings, dicts, sequences, quantization records) into h."""
    if isinstance(v, np.ndarray) or isinstance(v, np.generic):
        a = np.ascontiguousarray(v)
        h.update(f"a{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    elif isinstance(v, dict):
        h.update(b"d")
        for k in sorted(v, key=str):
            h.update(str(k).encode())
            _digest(h, v[k])
    elif isinstance(v, (list, tuple)):
        h.update(f"l{len(v)}".encode())
        for x in v:
            _digest(h, x)
    elif v is None or isinstance(v, (bool, int, float, str, bytes)):
        h.update(repr(v).encode())
    elif hasattr(v, "__dict__"):
        h.update(type(v).__name__.encode())
        _digest(h, vars(v))
    else:
        raise TypeError(f"cannot digest {type(v).__name__}")


class MemoExecutor(Executor):
    """The golden model with every node's outputs remembered by the digest of what they are a
    function of (the op, its attributes, its integer parameters, the values of its inputs, the
    output tensors' types and quantization, and the requantization rounding in effect). Configurations of a search share most layers
    (those quantized the same way, fed the same values), so consecutive evaluations recompute only
    the layers that differ; the outputs are the golden model's own (tests/search checks them equal
    a plain run). `memo` is an OrderedDict the caller keeps between runs, bounded to `limit` bytes."""

    def __init__(self, g: Graph, memo, limit: int = 256 << 20):
        super().__init__(g)
        self.memo, self.limit = memo, limit

    def _run(self, feeds, keep_all):
        import hashlib
        if self.fixed or self.int16 or keep_all:
            return super()._run(feeds, keep_all)
        g = self.g
        env: dict[str, np.ndarray] = {}
        keys: dict[str, bytes] = {}
        for name in g.inputs:
            x = np.asarray(feeds[name])
            if tuple(x.shape) != g.tensors[name].shape:
                raise ValueError(f"input {name}: expected shape {g.tensors[name].shape}, got {x.shape}")
            env[name] = x.astype(g.tensors[name].np_dtype)
            h = hashlib.sha1(b"input")
            _digest(h, env[name])
            keys[name] = h.digest()
        for node in self.order:
            h = hashlib.sha1(f"{node.op}/{rounding_mode()}".encode())   # the requantization rounding too
            _digest(h, node.attrs)
            _digest(h, self.params.get(node.name))
            for t in node.inputs:
                if not t:
                    h.update(b"-")
                elif t in keys:
                    h.update(keys[t])
                else:
                    _digest(h, self._value(env, t))
            for t in node.outputs:
                _digest(h, (g.tensors[t].dtype, g.tensors[t].shape, g.tensors[t].quant))
            k = h.digest()
            if k in self.memo:
                self.memo.move_to_end(k)
                ys = self.memo[k]
            else:
                xs = [self._value(env, t) for t in node.inputs]
                op = get_op(node.op)
                ys = op.run_int8(node, xs, self.params[node.name]) if node.name in self.params else op.run_float(node, xs)
                ys = [np.asarray(y).astype(g.tensors[name].np_dtype) for name, y in zip(node.outputs, ys)]
                self.memo[k] = ys
                self._trim()
            for i, (name, y) in enumerate(zip(node.outputs, ys)):
                env[name] = y
                keys[name] = k + bytes([i])
        return {name: self._value(env, name) for name in g.outputs}

    def _trim(self):
        size = sum(y.nbytes for ys in self.memo.values() for y in ys)
        while size > self.limit and len(self.memo) > 1:
            _, ys = self.memo.popitem(last=False)
            size -= sum(y.nbytes for y in ys)


def run_int8(g: Graph, x_dev: np.ndarray, chunk: int = 256, memo=None) -> np.ndarray:
    """Golden-model outputs (N, ...) of an int8 graph for float device-layout inputs x_dev
    (N, *input shape without its batch axis), quantized with the graph's input parameters.
    memo: an OrderedDict kept between calls to reuse the layers two graphs share (MemoExecutor)."""
    name = g.inputs[0]
    q = g.tensors[name].quant
    # float64 as simulate() and the C test harness quantize: a float32 division (what NumPy 2 does
    # for a float32 array and a Python float) rounds some pixels to the other side of a tie
    x = np.clip(round_half_away(np.asarray(x_dev, np.float64) / q.s) + q.zp, -128, 127).astype(np.int8)
    outs = []
    for i in range(0, len(x), chunk):
        part = x[i:i + chunk]
        b = batched(g, len(part))
        ex = Executor(b) if memo is None else MemoExecutor(b, memo)
        y = ex.run({name: part.reshape((len(part),) + tuple(g.tensors[name].shape[1:]))})[g.outputs[0]]
        outs.append(y.reshape(len(part), -1))
    return np.concatenate(outs)


class Evaluator:
    """Holds the float graph, the evaluation data and the calibration statistics (computed once
    per calibration data set and sample count) so that a configuration costs one quantization,
    one batched golden run and one code generation. Picklable: Ray ships it to its workers."""

    def __init__(self, model, x_eval, y_eval, calib, distilled=None, target: str = "cortex-m4",
                 measure: str = "compile", board: str = "mps2-an386", input_shapes: dict | None = None,
                 requant: str | None = None):
        from ..api import load_model, load_samples
        from ..passes.pipeline import canonicalize
        g = model if isinstance(model, Graph) else load_model(model, input_shapes)
        if g.meta.get("quant") == "int8":
            raise McuforgeError("the model is already quantized: the search needs a float model")
        self.graph = canonicalize(g)
        if len(self.graph.inputs) != 1 or len(self.graph.outputs) != 1:
            raise McuforgeError("the search evaluates classifiers with one input and one output; "
                                f"this model has {len(self.graph.inputs)} inputs and {len(self.graph.outputs)} outputs")
        if measure not in ("compile", "qemu"):
            raise McuforgeError(f"measure must be 'compile' or 'qemu', not {measure!r}")
        self.target, self.measure, self.board = target, measure, board
        # the requantization rounding, resolved here (None: the compiler's default for this model,
        # what compile_best then builds) and passed explicitly to prepare_graph, so that results
        # (and the cached tables of benchmarks/tune.py, measured with "double") say which it was
        from ..api import default_requant
        self.requant = requant or default_requant(self.graph)
        feeds = load_samples(np.asarray(x_eval, np.float32), self.graph)
        self.x_eval = np.stack([f[self.graph.inputs[0]][0] for f in feeds])
        self.y_eval = np.asarray(y_eval).reshape(-1).astype(np.int64)
        if len(self.y_eval) != len(self.x_eval):
            raise McuforgeError(f"{len(self.x_eval)} evaluation samples but {len(self.y_eval)} labels")
        self.samples = {"real": load_samples(np.asarray(calib, np.float32), self.graph)}
        if distilled is not None:
            self.samples["distilled"] = load_samples(np.asarray(distilled, np.float32), self.graph)
        self._stats: dict = {}
        self._ranges: dict = {}
        self._costs: dict = {}
        from ..quant.subbyte import SUBBYTE_OPS
        self.weight_layers = [n.name for n in self.graph.topo_order() if n.op in SUBBYTE_OPS]

    def stats(self, data: str, n: int):
        from ..quant.calibrate import collect_stats
        if data not in self.samples:
            raise McuforgeError(f"no {data} calibration samples (distilled data needs ZeroQ: --zeroq)")
        n = min(n, len(self.samples[data]))
        if (data, n) not in self._stats:
            self._stats[(data, n)] = collect_stats(self.graph, self.samples[data][:n])
        return self._stats[(data, n)]

    def warm(self, space) -> "Evaluator":
        """Compute the calibration statistics every configuration of `space` needs, here and once,
        before the evaluator is shipped to Ray workers (each would compute them again)."""
        datas = next((k.choices for k in space.knobs if k.name == "data"), ("real",))
        counts = next((k.choices for k in space.knobs if k.name == "n_calib"), (10 ** 9,))
        for data in datas:
            for n in counts:
                self.stats(data, int(n))
        return self

    def quantize(self, config: dict) -> Graph:
        from ..api import prepare_graph
        from ..quant.calibrate import choose_ranges
        from ..quant.int8 import quantize_int8
        method, pct = calib_options(config)
        data, n, clip = config.get("data", "real"), int(config.get("n_calib", 10 ** 9)), float(config.get("clip", 1.0))
        key = (data, min(n, len(self.samples.get(data, ()))), method, pct, clip)
        if key not in self._ranges:   # KL and MSE ranges cost a search per tensor: once per key
            self._ranges[key] = choose_ranges(self.stats(data, n), method, pct, clip)
        ranges = dict(self._ranges[key])
        q = quantize_int8(self.graph, ranges, per_channel_weights=config.get("weights", "per_channel") == "per_channel",
                          symmetric_acts=config.get("acts", "asymmetric") == "symmetric",
                          weight_bits=weight_bits_of(config, self.weight_layers))
        return prepare_graph(q, quiet=True, requant=self.requant)[0]

    def accuracy(self, q: Graph) -> float:
        from collections import OrderedDict
        if getattr(self, "_memo", None) is None:
            self._memo = OrderedDict()
        y = run_int8(q, self.x_eval, memo=self._memo)
        return float((y.argmax(1) == self.y_eval).mean())

    def cost(self, config: dict, q: Graph) -> dict:
        from ..codegen.c.emit import lower_to_c
        from ..targets import load_core
        min_arena = config.get("kernels", "fast") == "min_arena"
        # Weight and arena bytes depend on the kernels and the weight widths only (the int8
        # options change values, not sizes), so the code generation runs once per such pair.
        key = (min_arena, tuple(sorted((weight_bits_of(config, self.weight_layers) or {}).items())))
        if key not in self._costs:
            cm = lower_to_c(q.copy(), load_core(self.target).features, io_in_arena=True,
                            arena_budget=0 if min_arena else None)
            self._costs[key] = {"weights_bytes": int(sum(a.nbytes for a in cm.arrays if not getattr(a, "alias", None))),
                                "arena_bytes": int(cm.plan.size)}
        out = dict(self._costs[key])
        if self.measure == "qemu":
            from ..api import compile_model, simulate
            with tempfile.TemporaryDirectory() as tmp:
                compile_model(q, Path(tmp) / "lib", target=self.target, quiet=True, min_arena=min_arena,
                              requant=self.requant)
                _, info = simulate(Path(tmp) / "lib", self.board, self._one_user_sample(), quiet=True)
            out.update(instructions=int(info["instructions"]), flash_bytes=int(info["flash_bytes"]))
        return out

    def layer_bytes(self, bits: int, kernels: str = "fast") -> tuple[int, dict[str, int]]:
        """Flash bytes of the constant arrays with every weight layer at `bits`, without measuring
        accuracy: (bytes outside the weight layers, {weight layer: its bytes}). A layer's arrays
        depend on its own width only, so a configuration's weight bytes are the first plus its
        layers' entries at their widths (search/quantune.py's profile adds them up). The fastest
        kernels lay weights out as the default schedule does; min_arena uses its lean variants."""
        from ..codegen.c.emit import lower_to_c
        from ..targets import load_core
        config = {"calib": "minmax", "weights": "per_channel", "w_first": bits, "w_mid": bits, "w_last": bits}
        cm = lower_to_c(self.quantize(config).copy(), load_core(self.target).features, io_in_arena=True,
                        arena_budget=0 if kernels == "min_arena" else None, speed_first=kernels != "min_arena")
        owned = {id(a): l.node.name for l in cm.layers for a in l.arrays if l.node.name in self.weight_layers}
        per = {n: 0 for n in self.weight_layers}
        base = 0
        for a in cm.arrays:
            if getattr(a, "alias", None):
                continue
            if id(a) in owned:
                per[owned[id(a)]] += int(a.nbytes)
            else:
                base += int(a.nbytes)
        return base, per

    def __getstate__(self):
        # the layer memo stays here: each worker builds its own
        return dict(self.__dict__, _memo=None)

    def _one_user_sample(self) -> np.ndarray:
        """The first evaluation sample back in the model's layout (batch axis 1)."""
        x = self.x_eval[:1]
        perm = self.graph.meta.get("io_perm", {}).get(self.graph.inputs[0])
        return np.transpose(x, np.argsort(perm)) if perm else x

    def __call__(self, config: dict) -> dict:
        t0 = time.perf_counter()
        q = self.quantize(config)
        result = {"accuracy": self.accuracy(q)}
        result.update(self.cost(config, q))
        result["seconds"] = round(time.perf_counter() - t0, 3)
        return result

    def compile_best(self, config: dict, out_dir, name: str | None = None):
        from ..api import compile_model
        return compile_model(self.quantize(config), out_dir, target=self.target, name=name, quiet=True,
                             min_arena=config.get("kernels", "fast") == "min_arena", requant=self.requant)
