"""QuantMCU (Tao et al., DATE 2024): value-driven mixed precision for patch-based inference.

    qp = calibrate_quantmcu(g, plan, samples, QuantMCUOptions())   # g: the layer-wise int8 graph
    qg = apply_quantmcu(apply_patches(g, plan), qp)                # the mixed-precision patched graph

The patch stage (schedule/patches.py) computes each patch on its own copies of the stage's
layers. QuantMCU lowers the bit width of the patches' activations, decided per patch at run time:

- VDPC (value-driven patch classification): the branch input feature map is the output of the
  stage's first layer (`check`). Per patch (branch) a threshold is calibrated on that map's
  values inside the patch: a patch whose map holds a value beyond it (an outlier) runs the
  following branch at 8 bits, the others at the low widths. The check (ir/ops/quantmcu.py,
  qm_check) runs on the device and requantizes the patch's map to its low grid when it is
  outlier-free; every later layer of the patch is a qm_dual: both kernels, one set of buffers.
  Thresholds are the (1 - outlier_fraction) quantile of the patch's per-sample maximum (and the
  outlier_fraction quantile of its minimum) over the calibration samples.
- VDQS (value-driven quantization search), for the outlier-free patches: each feature map of the
  branch (the check map and every layer output but the stage's own output, which is pasted into
  the 8-bit map the rest of the network reads) gets 8, 4 or 2 bits. Its low grid covers the
  `clip` quantiles of its values in the outlier-free patches (VDPC took the outliers away, so the
  grid is narrower than the 8-bit one). Starting from 8 bits everywhere, each iteration lowers the
  one map (to its next width) with the best score S = -lam * dOmega + (1 - lam) * dPhi, where
  Omega is the relative entropy loss of the map's quantized values (H8 - Hb) / H8, the accuracy
  proxy of the paper (no retraining), and Phi the share of the stage's BitOPs saved; it stops
  once the expected BitOPs (outlier patches at 8 bits, at the calibrated outlier rate) are at
  most `target` times the 8-bit patches' BitOPs, or nothing is left to lower.

BitOPs = MACs x weight bits x input activation bits, over the stage's convolutions / dense layers
as computed patch by patch (halos included)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import McuforgeError, UnsupportedOpError
from ..ir.graph import Graph, Node
from ..ir.ops import get_op
from ..ir.ops.quantmcu import qrange
from ..ir.tensor import QuantParams

BRANCH_OPS = {"conv2d", "maxpool", "avgpool", "add", "pad", "requantize"}   # run as qm_dual
MOVE_OPS = {"slice"}                                                        # bytes only: kept as they are
WIDTHS = (8, 4, 2)


@dataclass
class QuantMCUOptions:
    bits: tuple = WIDTHS            # widths VDQS may choose, widest first
    lam: float = 0.5                # the score's weight of the entropy loss against BitOPs
    target: float = 0.5             # stop once expected BitOPs <= target x the 8-bit patches'
    outlier_fraction: float = 0.1   # calibration patches per branch that count as outlier patches
    clip: float = 0.999             # quantile of the outlier-free values a low grid covers
    max_values: int = 400_000       # values per feature map kept for the statistics

    def describe(self) -> dict:
        return {"bits": list(self.bits), "lam": self.lam, "target": self.target,
                "outlier_fraction": self.outlier_fraction, "clip": self.clip}


@dataclass
class QuantMCUPlan:
    check: str                              # the branch input feature map (layer-wise tensor name)
    branch: list[str]                       # stage nodes after the check (layer-wise names)
    codes: list[tuple[int, int]]            # per patch: outlier iff some code < lo or > hi
    thresholds: list[tuple[float, float]]   # the same in real units
    widths: dict[str, int]                  # feature map -> bits in the outlier-free patches
    grids: dict[str, tuple[float, int, int]]  # feature map -> (scale, zero point, bits), bits < 8
    macs: dict[str, list[int]]              # weighted node -> MACs per patch
    weight_bits: dict[str, int]
    inputs: dict[str, str]                  # weighted node -> its input feature map
    groups: dict[str, str] = field(default_factory=dict)   # feature map -> the map whose width it has
    outlier_rate: float = 0.0               # calibration patches that took the 8-bit path
    rates: list = field(default_factory=list)   # ... per patch
    steps: list = field(default_factory=list)
    options: dict = field(default_factory=dict)

    def bitops(self, flags=None) -> tuple[int, int]:
        """(BitOPs of the stage with these per-patch flags (1 = 8-bit path; None: all low),
        BitOPs of the 8-bit patches)."""
        return _bitops(self, self.widths, flags)

    def expected_bitops(self) -> float:
        return _expected(self, self.widths)

    def describe(self) -> dict:
        b8 = self.bitops(np.ones(len(self.codes)))[0]
        return {"check": self.check, "branch": list(self.branch),
                "thresholds": [[round(lo, 6), round(hi, 6)] for lo, hi in self.thresholds],
                "threshold_codes": [list(c) for c in self.codes],
                "widths": dict(self.widths), "grids": {k: [v[0], v[1], v[2]] for k, v in self.grids.items()},
                "bitops_8bit": int(b8), "bitops_low_path": int(self.bitops()[0]),
                "bitops_expected": int(round(self.expected_bitops())),
                "calib_outlier_rate": round(self.outlier_rate, 4), "search": self.steps, "options": self.options,
                "macs": {k: list(v) for k, v in self.macs.items()}, "weight_bits": dict(self.weight_bits),
                "inputs": dict(self.inputs), "groups": dict(self.groups)}


def _bitops(qp: QuantMCUPlan, widths: dict, flags=None) -> tuple[int, int]:
    total, eight = 0, 0
    for n, per_patch in qp.macs.items():
        a = widths.get(qp.inputs[n], 8)
        for k, m in enumerate(per_patch):
            bits = 8 if flags is not None and flags[k] else a
            total += m * qp.weight_bits[n] * bits
            eight += m * qp.weight_bits[n] * 8
    return total, eight


def _expected(qp: QuantMCUPlan, widths: dict, rates=None) -> float:
    rates = qp.rates if rates is None else rates
    tot = 0.0
    for n, per_patch in qp.macs.items():
        a = widths.get(qp.inputs[n], 8)
        for k, m in enumerate(per_patch):
            tot += m * qp.weight_bits[n] * (rates[k] * 8 + (1 - rates[k]) * a)
    return tot


# -- calibration -----------------------------------------------------------------------------
def _patch_of(name: str) -> tuple[str, int] | None:
    """(layer-wise name, patch index) of a patched graph's node or tensor name, or None."""
    i = name.rfind("@p")
    if i < 0:
        return None
    m = re.match(r"(\d+)", name[i + 2:])
    return (name[:i], int(m.group(1))) if m else None


def _grid(v: np.ndarray, bits: int, clip: float) -> tuple[float, int]:
    qmin, qmax = qrange(bits)
    lo = min(float(np.quantile(v, 1 - clip)), 0.0) if v.size else 0.0
    hi = max(float(np.quantile(v, clip)), 0.0) if v.size else 1.0
    if hi - lo < 1e-8:
        hi = lo + 1e-8
    scale = (hi - lo) / (qmax - qmin)
    zp = int(np.clip(np.round(qmin - lo / scale), qmin, qmax))
    return scale, zp


def _entropy(codes: np.ndarray) -> float:
    _, counts = np.unique(codes, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def branch_of(g: Graph, plan) -> tuple[str, list[Node]]:
    stage = [g.node(n) for n in plan.stage]
    if len(stage) < 2:
        raise McuforgeError(f"--quantmcu: the patch stage ({plan.split}) has one layer; no branch follows its check")
    for n in stage[1:]:
        if n.op not in BRANCH_OPS | MOVE_OPS:
            raise UnsupportedOpError(n.op, n.name, "has no low-bit (QuantMCU) path in the patch stage")
    return stage[0].outputs[0], stage[1:]


def _groups(g: Graph, branch: list[Node], check: str, split_out: str) -> dict[str, str]:
    """Feature map -> the map whose width it shares (an op that keeps its input's grid ties its
    output to it); maps tied to the stage output stay at 8 bits (absent)."""
    root = {check: check}
    for n in branch:
        out = n.outputs[0]
        if get_op(n.op).keeps_quant and n.inputs[0] in root:
            root[out] = root[n.inputs[0]]
        else:
            root[out] = out
    fixed = {root[split_out]} if split_out in root else set()
    return {t: r for t, r in root.items() if r not in fixed and t != split_out}


def calibrate_quantmcu(g: Graph, plan, samples: list[np.ndarray], options: QuantMCUOptions | None = None,
                       quiet: bool = True) -> QuantMCUPlan:
    """VDPC thresholds and VDQS widths from int8 input samples (arrays of g's input shape) run
    through the layer-wise int8 golden model (g, with `plan` from schedule/patches.py)."""
    from ..reference.executor import Executor
    from .patches import patch_boxes
    opt = options or QuantMCUOptions()
    if not samples:
        raise McuforgeError("--quantmcu needs calibration samples (--calib)")
    check, branch = branch_of(g, plan)
    split_out = g.node(plan.split).outputs[0]
    groups = _groups(g, branch, check, split_out)
    maps = sorted(set(groups.values()))
    ex = Executor(g)
    keep = {check} | set(groups) | {t for n in branch for t in n.inputs if t}
    acts: dict[str, list] = {t: [] for t in keep}
    for x in samples:
        env = ex.run({g.inputs[0]: x}, keep_all=True)
        for t in keep:
            if t in env and not g.tensors[t].is_const:
                acts[t].append(env[t])
    acts = {t: np.concatenate(v) for t, v in acts.items() if v}
    boxes = patch_boxes(g, plan)
    n_s, n_p = len(samples), len(boxes)
    # VDPC: per patch, thresholds on the check map's codes inside the patch
    cq = g.tensors[check].quant
    codes, thresholds = [], []
    flags = np.zeros((n_s, n_p), bool)
    for k, (_, need) in enumerate(boxes):
        b = need[check]
        v = acts[check][:, b.y0:b.y1, b.x0:b.x1, :].reshape(n_s, -1).astype(np.int64)
        hi = int(np.quantile(v.max(axis=1), 1 - opt.outlier_fraction, method="lower"))
        lo = int(np.quantile(v.min(axis=1), opt.outlier_fraction, method="higher"))
        flags[:, k] = (v.max(axis=1) > hi) | (v.min(axis=1) < lo)
        codes.append((lo, hi))
        thresholds.append(((lo - cq.zp) * cq.s, (hi - cq.zp) * cq.s))
    rates = flags.mean(axis=0)
    # the outlier-free values of every feature map (dequantized), within each patch's box
    rng = np.random.default_rng(0)
    values, codes8 = {}, {}
    for m in maps:
        members = [t for t, r in groups.items() if r == m]
        t = m if m in acts else members[0]
        q = g.tensors[t].quant
        parts = []
        for k, (_, need) in enumerate(boxes):
            if t not in need:
                continue
            b = need[t]
            sel = ~flags[:, k]
            if sel.any():
                parts.append(acts[t][sel, b.y0:b.y1, b.x0:b.x1, :].reshape(-1))
        c = np.concatenate(parts) if parts else np.zeros(1, np.int8)
        if c.size > opt.max_values:
            c = rng.choice(c, opt.max_values, replace=False)
        codes8[m] = c.astype(np.int64)
        values[m] = (c.astype(np.float64) - q.zp) * q.s
    # BitOPs bookkeeping: weighted nodes of the whole stage, MACs per patch
    macs, wbits, inputs = {}, {}, {}
    for n in [g.node(s) for s in plan.stage]:
        total = get_op(n.op).macs(n, g)
        if total <= 0 or n.op not in ("conv2d", "dense"):
            continue
        _, oh, ow, _ = g.tensors[n.outputs[0]].shape
        macs[n.name] = [int(round(total * need[n.outputs[0]].h * need[n.outputs[0]].w / (oh * ow)))
                        for _, need in boxes]
        wbits[n.name] = int(n.attrs.get("weight_bits", 8))
        inputs[n.name] = groups.get(n.inputs[0], n.inputs[0])
    qp = QuantMCUPlan(check, [n.name for n in branch], codes, thresholds, {m: 8 for m in maps}, {}, macs,
                      wbits, inputs, groups, float(flags.mean()), options=opt.describe())
    qp.rates = [float(r) for r in rates]
    # VDQS
    grids = {(m, b): _grid(values[m], b, opt.clip) for m in maps for b in opt.bits if b < 8}
    h8 = {m: _entropy(codes8[m]) for m in maps}

    def omega(m, b):
        if b >= 8:
            return 0.0
        s, zp = grids[(m, b)]
        qmin, qmax = qrange(b)
        hb = _entropy(np.clip(np.round(values[m] / s) + zp, qmin, qmax))
        return max(0.0, (h8[m] - hb) / h8[m]) if h8[m] > 0 else 0.0

    base = _expected(qp, qp.widths)
    widths = dict(qp.widths)
    while _expected(qp, widths) > opt.target * base:
        best = None
        cur_cost = _expected(qp, widths)
        for m in maps:
            lower = [b for b in opt.bits if b < widths[m]]
            if not lower:
                continue
            b = max(lower)
            trial = dict(widths, **{m: b})
            d_phi = (cur_cost - _expected(qp, trial)) / base
            if d_phi <= 0:
                continue            # saves no BitOPs (e.g. read by no convolution)
            d_omega = omega(m, b) - omega(m, widths[m])
            score = -opt.lam * d_omega + (1 - opt.lam) * d_phi
            if best is None or score > best[0]:
                best = (score, m, b, d_phi, d_omega)
        if best is None:
            break
        score, m, b, d_phi, d_omega = best
        widths[m] = b
        qp.steps.append({"map": m, "bits": b, "score": round(score, 5), "d_bitops": round(d_phi, 5),
                         "d_entropy": round(d_omega, 5), "expected_ratio": round(_expected(qp, widths) / base, 4)})
    qp.widths = widths
    qp.grids = {m: (float(grids[(m, b)][0]), int(grids[(m, b)][1]), int(b)) for m, b in widths.items() if b < 8}
    return qp


# -- the mixed-precision patched graph -------------------------------------------------------
def _narrow_act(node: Node, grid) -> dict:
    scale, zp, bits = grid
    qmin, qmax = qrange(bits)
    lo, hi = (qmin - zp) * scale, (qmax - zp) * scale
    a_lo, a_hi = node.attrs.get("act_min"), node.attrs.get("act_max")
    return {"act_min": lo if a_lo is None else max(lo, a_lo), "act_max": hi if a_hi is None else min(hi, a_hi)}


def apply_quantmcu(pg: Graph, qp: QuantMCUPlan) -> Graph:
    """The patched graph pg (apply_patches) with each patch's check and dual-precision branch."""
    from .patches import _add, _shallow_copy
    G = _shallow_copy(pg)
    branch = set(qp.branch)
    flags: dict[int, str] = {}
    checked: dict[str, str] = {}      # patch tensor of the check map -> its checked copy

    def grid_of(name: str):
        """The low grid of a patched graph's tensor (None: 8 bits in both paths)."""
        p = _patch_of(name)
        if p is None or name in checked:       # the unchecked map: read by its check only
            return None
        return qp.grids.get(qp.groups.get(p[0]))

    bias_low: dict[str, str] = {}
    for node in pg.topo_order():
        ins = [checked.get(t, t) for t in node.inputs]
        p = _patch_of(node.name)
        if p is not None and p[0] in branch and node.op not in MOVE_OPS:
            k = p[1]
            if node.op not in BRANCH_OPS:
                raise UnsupportedOpError(node.op, node.name, "has no low-bit (QuantMCU) path")
            n_in = len(ins)
            low = list(range(n_in))
            extra = []
            low_q = {t: list(grid_of(t)) for t in ins[:n_in] + node.outputs if t and grid_of(t)}
            if node.op == "conv2d" and len(ins) > 2 and ins[2] and ins[0] in low_q:
                orig_b = ins[2]
                if orig_b not in bias_low:
                    b = pg.tensors[orig_b]
                    s_in8 = G.tensors[ins[0]].quant.s
                    s_low = low_q[ins[0]][0]
                    data = np.round(b.data.astype(np.float64) * s_in8 / s_low)
                    if np.abs(data).max(initial=0) >= 2 ** 31:
                        raise McuforgeError(f"node {node.name}: the low-bit bias does not fit int32")
                    bq = b.quant
                    c = G.const(orig_b + "_qmlow", data.astype(np.int32), "int32",
                                QuantParams(bq.scale * s_in8 / s_low, bq.zero_point, axis=bq.axis))
                    bias_low[orig_b] = c.name
                extra.append(bias_low[orig_b])
                low[2] = n_in + 1
            attrs = {"op": node.op, "inner": dict(node.attrs), "n_in": n_in, "low_inputs": low,
                     "low_attrs": _narrow_act(node, low_q[node.outputs[0]]) if node.outputs[0] in low_q else {},
                     "low_q": low_q}
            dual = Node(node.name, "qm_dual", ins + [flags[k]] + extra, list(node.outputs), attrs)
            _add(G, dual)
            G.tensors[node.outputs[0]].quant = pg.tensors[node.outputs[0]].quant
            continue
        new = Node(node.name, node.op, ins, list(node.outputs), dict(node.attrs))
        _add(G, new)
        for t in node.outputs:
            G.tensors[t].quant, G.tensors[t].meta = pg.tensors[t].quant, dict(pg.tensors[t].meta)
        for t in node.outputs:
            pt = _patch_of(t)
            if pt is not None and pt[0] == qp.check:
                k = pt[1]
                grid = qp.grids.get(qp.check)
                y = G.unique(f"{t}.qm")
                flag = G.unique(f"qm_flag@p{k}")
                lo, hi = qp.codes[k]
                attrs = {"lo": lo, "hi": hi, "bits": grid[2] if grid else 8,
                         "out_scale": grid[0] if grid else 1.0, "out_zp": grid[1] if grid else 0}
                chk = Node(G.unique(f"qm_check@p{k}"), "qm_check", [t], [y, flag], attrs)
                _add(G, chk)
                G.tensors[y].quant = pg.tensors[t].quant
                checked[t] = y
                flags[k] = flag
    G.prune_tensors()
    G.meta["quantmcu"] = qp.describe()
    return G


def quantize_input(g: Graph, x: np.ndarray) -> np.ndarray:
    """A float sample in g's input layout -> its int8 codes (the device's input rule)."""
    from ..reference.arith import round_half_away
    q = g.tensors[g.inputs[0]].quant
    return np.clip(round_half_away(np.asarray(x, np.float64) / q.s) + q.zp, -128, 127).astype(np.int8)


def lower_quantmcu(g: Graph, features, mode, samples, options, lower, io_in_arena: bool = True,
                   budget: int | None = None, max_overhead: float | None = None):
    """compile_model's --quantmcu: the patch schedule (mode "auto" or "<n>x<m>@<node>"), VDPC and
    VDQS calibrated on `samples` (float feeds in device layout), lowered with `lower`. Returns
    (cmodel, graph, PatchPlan, QuantMCUPlan, note)."""
    from .memory import plan_memory
    from .patches import DEFAULT_MAX_OVERHEAD, KERNEL_MARGIN, apply_patches, parse_mode, plan_patches
    kind, _, _ = parse_mode(mode or "auto")
    if kind == "off":
        raise McuforgeError("--quantmcu needs patches: use --patch auto or --patch <rows>x<cols>@<node>")
    base = g.copy()
    plan_memory(base, io_in_arena=io_in_arena)
    plan = plan_patches(base, features, mode or "auto", budget, io_in_arena,
                        DEFAULT_MAX_OVERHEAD if max_overhead is None else max_overhead, margin=math.inf)
    if plan is None:
        raise McuforgeError("--quantmcu: the model has no patch stage (no patchable first layers)")
    xs = [quantize_input(base, s[base.inputs[0]]) for s in samples]
    qp = calibrate_quantmcu(base, plan, xs, options)
    qg = apply_quantmcu(apply_patches(base, plan), qp)
    cm = lower(qg)
    plan.arena_bytes = cm.plan.size
    b8 = qp.bitops(np.ones(len(qp.codes)))[0]
    note = (f"quantmcu: {plan.grid[0]}x{plan.grid[1]}@{plan.split}, widths {qp.widths}, expected BitOPs "
            f"{qp.expected_bitops() / b8:.3f}x of 8-bit patches (calibration outlier patches {qp.outlier_rate:.1%})")
    return cm, qg, plan, qp, note
