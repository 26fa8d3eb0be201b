"""Patch-based inference (MCUNetV2): the first layers run patch by patch.

    plan = plan_patches(g, features, mode="auto", budget=None, io_in_arena=True)  # PatchPlan | None
    plan.peak_bytes, plan.layerwise_bytes, plan.mac_overhead, plan.split, plan.grid
    pg = apply_patches(g, plan)       # the patched graph: compile / run it like any other

mode is "auto", "off" (None), or "<n>x<m>@<node>" (n rows by m columns of patches of the output
of node <node>, which ends the patch stage). The patch stage is a prefix of the execution order
that ends at the split node; only its output is read after it. Each patch of the split node's
output gets its own copy of the stage's nodes on smaller tensors: receptive_field.py says which
rows and columns each node must compute (the halo), the windowed ops keep their padding only on
the sides where the patch touches the image border, a `slice` crops a window out of the whole
input (or out of a larger patch tensor, for a residual branch), and a `patch_paste` writes the
patch into the stage's whole output, which the rest of the network reads as before. Every op
on a patch computes the same values as on the whole map, so the patched graph's outputs are
bit-identical to the original's (tests/test_patches.py runs both).

Nothing about patches is special downstream: the golden model executes the patched graph, the C
backend emits its nodes with the usual kernels (every optimized variant applies to a patch, it
is just a smaller tensor), and the arena planner plans the patch tensors of one patch at a time
(they die before the next patch starts, so one patch's buffers are reused by the next), the
whole input, the stage output and the rest of the network, with in-place pairs as always; the
pastes alias the stage output so patches land straight in it.

The automatic choice: for every split node and grid (n, m in 1..MAX_GRID, non-square too; the
last row/column of patches takes what is left, or sizes are as even as they get) the MACs are
counted from the receptive-field boxes; the candidates within the MAC bound are ranked by a
quick estimate of their peak (live bytes less in-place sharing, _estimate) and the best
SHORTLIST are planned exactly without kernels (schedule/memory.plan_for_order, the planner of
the layer-wise schedule too). Default: the smallest peak whose MAC overhead (recomputed halo
MACs / stage MACs) is at most max_overhead; with budget (bytes): the fewest MACs whose peak
fits, else the smallest peak. A plan whose peak is not below the layer-wise one is not returned
(None; `margin` relaxes this for lower_patched). The input image, when planned in the arena
(io_in_arena), counts in every peak; the stage output may be planned over the input's bytes
that no later patch reads (the pastes' "over" gap, checked like any in-place pair).

lower_patched(g, features, mode, lower, ...) is what compile_model calls: it lowers the chosen
patched graph and the layer-wise graph with the C backend (kernel scratch included) and, for
"auto", keeps the patched one only if its arena is smaller: never worse than layer-wise.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..errors import McuforgeError, UnsupportedOpError
from ..ir.graph import Graph, Node
from ..ir.ops import get_op, infer_node
from .receptive_field import Box, backward, input_ranges, patchable

MAX_GRID = 6
DEFAULT_MAX_OVERHEAD = 0.25
PLAN_TRIES = 8          # arena-search tries per candidate (the final compile plans with more)
FINAL_PLAN_TRIES = 40   # random placement orders for the C backend's plan of a patched graph
KERNEL_MARGIN = 0.15    # lower_patched: candidates this close to layer-wise get compared with kernels
SHORTLIST = 6           # candidates planned exactly after ranking by live bytes


@dataclass
class PatchPlan:
    split: str                          # node whose output ends the patch stage
    stage: list[str]                    # stage nodes, execution order
    grid: tuple[int, int]               # patch rows x patch columns
    rows: list[tuple[int, int]]         # split-output rows of each patch row [y0, y1)
    cols: list[tuple[int, int]]
    halo: dict = field(default_factory=dict)   # stage input -> (rows, cols) read beyond its tile share
    stage_macs: int = 0                 # layer-wise MACs of the stage
    patched_macs: int = 0               # the same computed patch by patch (halos recomputed)
    peak_bytes: int = 0                 # planned arena of the patched graph (no kernel scratch)
    layerwise_bytes: int = 0            # the same planner on the layer-wise graph
    stage_peak: int = 0                 # live bytes at the worst step inside the patch stage
    rest_peak: int = 0                  # ... and after it
    arena_bytes: int = 0                # the C backend's arena (kernel scratch included), patched
    layerwise_arena_bytes: int = 0      # ... and layer-wise

    @property
    def mac_overhead(self) -> float:
        return self.patched_macs / self.stage_macs - 1.0 if self.stage_macs else 0.0

    @property
    def n_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    def describe(self) -> dict:
        return {"split": self.split, "grid": list(self.grid), "stage": list(self.stage),
                "rows": [list(r) for r in self.rows], "cols": [list(c) for c in self.cols],
                "halo": {k: list(v) for k, v in self.halo.items()},
                "stage_macs": self.stage_macs, "patched_macs": self.patched_macs,
                "mac_overhead": round(self.mac_overhead, 4), "peak_bytes": self.peak_bytes,
                "layerwise_bytes": self.layerwise_bytes, "stage_peak_bytes": self.stage_peak,
                "rest_peak_bytes": self.rest_peak}

    def report(self, cm=None) -> dict:
        """describe() plus the arenas the C backend planned (model.json's "patches")."""
        d = self.describe()
        d.update(arena_bytes=self.arena_bytes, layerwise_arena_bytes=self.layerwise_arena_bytes,
                 patches=self.n_patches)
        return d


# -- the stage -------------------------------------------------------------------------------
def stage_prefixes(g: Graph) -> tuple[list[tuple[Node, list[Node]]], Node | None, str | None]:
    """Valid (split node, stage nodes) pairs along the execution order, and the first node that
    cannot be patched (with why), which ends every stage."""
    order = g.topo_order()
    out = []
    inside: list[Node] = []
    produced: set[str] = set()
    for i, node in enumerate(order):
        why = patchable(g, node)
        if why is None:
            for t in node.inputs:
                if t and not g.tensors[t].is_const and t not in produced and t not in g.inputs:
                    why = f"it reads {t}, which is neither the model input nor made inside the stage"
        if why is not None:
            return out, node, why
        inside.append(node)
        produced.update(node.outputs)
        later = {t for n in order[i + 1:] for t in n.inputs} | set(g.outputs)
        if (produced & later) == {node.outputs[0]}:
            out.append((node, list(inside)))
    return out, None, None


def tiles(n: int, parts: int) -> list[tuple[int, int]]:
    """[y0, y1) ranges of `parts` patches over n rows: ceil(n/parts) each and the last takes the
    rest, or (when that leaves fewer than `parts`) sizes as even as they get."""
    if not 1 <= parts <= n:
        raise McuforgeError(f"{parts} patches over {n} rows")
    step = math.ceil(n / parts)
    out = [(y, min(y + step, n)) for y in range(0, n, step)]
    if len(out) != parts:
        cuts = [round(i * n / parts) for i in range(parts + 1)]
        out = list(zip(cuts[:-1], cuts[1:]))
    return out


# -- the patched graph -----------------------------------------------------------------------
def _add(G: Graph, node: Node):
    """Graph.add_node for nodes added after their producers (no scan for earlier readers)."""
    G.nx.add_node(node.name, node=node)
    for t in node.inputs:
        p = G._producer.get(t)
        if p is not None:
            G.nx.add_edge(p, node.name)
    for out in node.outputs:
        G._producer[out] = node.name
    infer_node(G, node)


def _shallow_copy(g: Graph) -> Graph:
    """A Graph without nodes that shares g's Tensor objects (the measuring copies)."""
    G = Graph(g.name)
    G.tensors = dict(g.tensors)
    G.inputs, G.outputs, G.meta = list(g.inputs), list(g.outputs), dict(g.meta)
    return G


def _crop(G: Graph, src: str, have: Box, want: Box, name: str) -> str:
    c = G.tensors[src].shape[-1]
    node = Node(name, "slice", [src], [name],
                {"starts": [0, want.y0 - have.y0, want.x0 - have.x0, 0], "steps": [1, 1, 1, 1],
                 "sizes": [1, want.h, want.w, c]})
    _add(G, node)
    G.tensors[name].quant, G.tensors[name].meta = G.tensors[src].quant, dict(G.tensors[src].meta)
    return name


def patch_boxes(g: Graph, plan: PatchPlan) -> list[tuple[Box, dict[str, Box]]]:
    """Per patch (row-major): its box of the split output and the box of every stage tensor
    it computes or reads (clipped to the tensor)."""
    stage = [g.node(n) for n in plan.stage]
    split_out = stage[-1].outputs[0]
    out = []
    for r in plan.rows:
        for c in plan.cols:
            box = Box(r[0], r[1], c[0], c[1])
            out.append((box, backward(g, stage, {split_out: box})))
    return out


def apply_patches(g: Graph, plan: PatchPlan, copy: bool = True) -> Graph:
    """The patched graph (a new Graph; g is not changed). copy=False shares g's tensors and
    nodes after the stage (for measuring only: do not change the result)."""
    if copy:
        g = g.copy()
    G = _shallow_copy(g)
    stage = [g.node(n) for n in plan.stage]
    rest = [n for n in g.topo_order() if n.name not in set(plan.stage)]
    for t in {t for n in stage for t in n.outputs}:
        del G.tensors[t]
    G.tensors[stage[-1].outputs[0]] = g.tensors[stage[-1].outputs[0]]
    split_out = stage[-1].outputs[0]
    full = G.tensors[split_out]
    orig = {t: g.tensors[t] for n in stage for t in n.outputs}
    prev = None
    k_last = plan.n_patches - 1
    k = 0
    boxes = patch_boxes(g, plan)
    elem = full.nbytes // full.size
    _, _, wo, co = full.shape
    written = []            # per patch: end byte of the stage output written up to its paste
    reads = []              # per patch: {stage input: first byte it reads}
    for box, need in boxes:
        avail = {t: (t, Box(0, g.tensors[t].shape[1], 0, g.tensors[t].shape[2])) for t in g.inputs}
        reads.append({})
        crops: dict = {}
        for node in stage:
            out = node.outputs[0]
            if out not in need:
                continue
            obox = need[out]
            ins = []
            pads = (0, 0, 0, 0)
            for t, b in zip(node.inputs, input_ranges(g, node, obox)):
                if b is None:
                    if t and not g.tensors[t].is_const and t not in g.inputs:
                        raise UnsupportedOpError(node.op, node.name, f"reads all of {t} inside a patch")
                    ins.append(t)
                    continue
                h, w = g.tensors[t].shape[1:3]
                want, pads = b.clip(h, w)
                src, have = avail[t]
                if t in g.inputs:
                    xt = g.tensors[t]
                    first = (want.y0 * xt.shape[2] + want.x0) * xt.shape[3] * (xt.nbytes // xt.size)
                    reads[-1][t] = min(first, reads[-1].get(t, first))
                if have != want:
                    key = (t, want)
                    if key not in crops:
                        crops[key] = _crop(G, src, have, want, G.unique(f"{t}@p{k}.crop"))
                    src = crops[key]
                ins.append(src)
            attrs = dict(node.attrs)
            if node.op in ("conv2d", "maxpool", "avgpool"):
                attrs["pads"] = tuple(pads)
            elif node.op == "pad":
                t_, l_, b_, r_ = pads
                attrs["pads"] = ((0, 0), (t_, b_), (l_, r_), (0, 0))
            name = f"{out}@p{k}"
            pn = Node(G.unique(f"{node.name}@p{k}"), node.op, ins, [name], attrs)
            _add(G, pn)
            t = G.tensors[name]
            if t.shape != (1, obox.h, obox.w, orig[out].shape[3]):
                raise AssertionError(f"patch {k} of {node.name}: {t.shape}, expected {obox}")
            t.quant, t.meta = orig[out].quant, dict(orig[out].meta)
            avail[out] = (name, obox)
        dst = split_out if k == k_last else G.unique(f"{split_out}@paste{k}")
        end = ((box.y1 - 1) * wo + box.x1) * co * elem
        written.append(max(end, written[-1] if written else 0))
        paste = Node(G.unique(f"paste@p{k}"), "patch_paste",
                     ([prev] if prev else []) + [avail[split_out][0]], [dst],
                     {"y0": box.y0, "x0": box.x0, "shape": full.shape,
                      "defined": written[-2] if len(written) > 1 else 0})
        if dst != split_out:
            from ..ir.tensor import Tensor
            G.add_tensor(Tensor(dst, full.shape, full.dtype, None, full.quant, dict(full.meta)))
        _add(G, paste)
        prev = dst
        k += 1
    # The stage output may start `gap` bytes below a stage input and run over it: every byte the
    # pastes up to patch k write must lie below the first input byte a later patch still reads.
    over = {}
    for t in g.inputs:
        later = [r.get(t) for r in reads]
        worst = 0
        for k_, end in enumerate(written):
            firsts = [f for f in later[k_ + 1:] if f is not None]
            if firsts:
                worst = max(worst, end - min(firsts))
        if any(f is not None for f in later):
            over[t] = worst
    for n in G.topo_order():
        if n.op == "patch_paste":
            n.attrs["over"] = dict(over)
    for n in rest:
        _add(G, n)
    G.prune_tensors()
    G.meta["patches"] = plan.describe()
    G.meta["fixed_order"] = True            # patch by patch: schedule/memory.py keeps this order
    G.meta["plan_tries"] = FINAL_PLAN_TRIES
    return G


# -- measuring a candidate -------------------------------------------------------------------
def _macs(g: Graph, nodes) -> int:
    return int(sum(get_op(n.op).macs(n, g) for n in nodes))


def _live_peak(g: Graph, io_in_arena: bool, split_step: int | None = None) -> tuple[int, int, int]:
    """(max live bytes, max inside steps <= split_step, max after), tensors aligned as planned."""
    from .arena import _align
    from .lifetimes import lifetimes
    order = g.topo_order()
    lts = lifetimes(g, order, io_in_arena)
    live = [0] * max(len(order), 1)
    for lt in lts:
        for s in range(lt.first, lt.last + 1):
            live[s] += _align(lt.size)
    cut = len(live) if split_step is None else split_step + 1
    return max(live), max(live[:cut], default=0), max(live[cut:], default=0)


def _estimate(g: Graph, io_in_arena: bool) -> int:
    """A quick stand-in for the planned arena, to rank candidates: the worst step's live bytes
    less what the in-place pairs alive at that step may share (each tensor in one pair)."""
    from .arena import _align
    from .inplace import overlaps
    from .lifetimes import arena_tensors, lifetimes
    order = g.topo_order()
    lts = {lt.tensor: lt for lt in lifetimes(g, order, io_in_arena)}
    live = [0] * max(len(order), 1)
    for lt in lts.values():
        for s_ in range(lt.first, lt.last + 1):
            live[s_] += _align(lt.size)
    pairs = []
    for ov in overlaps(g, order, arena_tensors(g, io_in_arena)):
        a, b = lts.get(ov.output), lts.get(ov.input)
        if a is None or b is None:
            continue
        shared = min(_align(a.size), _align(b.size) + _align(ov.gap)) - _align(ov.gap)
        if shared > 0:
            pairs.append((shared, a, b))
    pairs.sort(key=lambda p: -p[0])
    best = 0
    for s_, total in enumerate(live):
        used, saved = set(), 0
        for shared, a, b in pairs:
            if a.first <= s_ <= a.last and b.first <= s_ <= b.last and a.tensor not in used and b.tensor not in used:
                used.update((a.tensor, b.tensor))
                saved += shared
        best = max(best, total - saved)
    return best


def _planned(g: Graph, io_in_arena: bool, tries: int = PLAN_TRIES) -> int:
    from .memory import plan_for_order
    return plan_for_order(g, g.topo_order(), tries=tries, io_in_arena=io_in_arena).size


def _candidate(g, split, stage, grid) -> PatchPlan:
    _, h, w, _ = g.tensors[split.outputs[0]].shape
    rows, cols = tiles(h, grid[0]), tiles(w, grid[1])
    return PatchPlan(split.name, [n.name for n in stage], grid, rows, cols)


def _measure(g: Graph, plan: PatchPlan, io_in_arena: bool, tries: int | None = PLAN_TRIES) -> Graph:
    """Fill in plan's MACs, halo and peaks (tries None: MACs and halo only); the patched graph."""
    stage = [g.node(n) for n in plan.stage]
    plan.stage_macs = _macs(g, stage)
    per_pixel = {n.outputs[0]: get_op(n.op).macs(n, g) / (g.tensors[n.outputs[0]].shape[1] *
                                                          g.tensors[n.outputs[0]].shape[2]) for n in stage}
    plan.patched_macs = int(round(sum(per_pixel[t] * b.h * b.w for _, need in patch_boxes(g, plan)
                                      for t, b in need.items() if t in per_pixel)))
    split_out = g.tensors[stage[-1].outputs[0]]
    for t in g.inputs:
        need = backward(g, stage, {stage[-1].outputs[0]: Box(*plan.rows[0], *plan.cols[0])}).get(t)
        if need is not None:   # how far the first patch's input window reaches past its share
            th, tw = g.tensors[t].shape[1:3]
            share_h = math.ceil(th * (plan.rows[0][1] - plan.rows[0][0]) / split_out.shape[1])
            share_w = math.ceil(tw * (plan.cols[0][1] - plan.cols[0][0]) / split_out.shape[2])
            plan.halo[t] = (max(0, need.h - share_h), max(0, need.w - share_w))
    if tries is None:
        return None
    pg = apply_patches(g, plan, copy=False)
    order = pg.topo_order()
    last_paste = max(i for i, n in enumerate(order) if n.op == "patch_paste")
    _, plan.stage_peak, plan.rest_peak = _live_peak(pg, io_in_arena, last_paste)
    plan.peak_bytes = _planned(pg, io_in_arena, tries)
    return pg


GRID_RE = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*@\s*(.+?)\s*$")


def parse_mode(mode) -> tuple[str, tuple[int, int] | None, str | None]:
    if mode is None or mode in ("off", False):
        return "off", None, None
    if mode in ("auto", True):
        return "auto", None, None
    m = GRID_RE.match(str(mode))
    if not m:
        raise McuforgeError(f"--patch {mode!r}: expected auto, off or <rows>x<cols>@<node> (e.g. 3x3@conv2)")
    return "grid", (int(m.group(1)), int(m.group(2))), m.group(3)


def plan_patches(g: Graph, features=frozenset(), mode="auto", budget: int | None = None,
                 io_in_arena: bool = True, max_overhead: float = DEFAULT_MAX_OVERHEAD,
                 margin: float = 0.0) -> PatchPlan | None:
    """The patch schedule for g (see the module doc), or None (off, nothing to gain, no stage).
    features (the target core's) are accepted for the API's sake: the kernel-free planner
    decides the schedule; the C backend then plans the chosen graph with its kernels. With
    margin > 0 "auto" also returns a plan whose kernel-free peak is up to that fraction above the
    layer-wise one (kernel scratch can reverse the order: lower_patched then compares the two
    with their kernels and keeps the smaller)."""
    kind, grid, split_name = parse_mode(mode)
    if kind == "off":
        return None
    prefixes, stopper, why = stage_prefixes(g)
    by_name = {n.name: (n, st) for n, st in prefixes}
    if kind == "grid":
        if split_name not in by_name:
            if split_name not in g.nodes:
                raise McuforgeError(f"--patch {mode}: no node {split_name!r} in the model")
            if stopper is not None and split_name not in [n.name for _, st in prefixes for n in st]:
                raise UnsupportedOpError(stopper.op, stopper.name,
                                         f"cannot be computed patch by patch ({why}); the patch stage must end before it")
            raise McuforgeError(f"--patch {mode}: the stage cannot end at {split_name!r}: "
                                f"a tensor made before it is read after it (a branch crosses the split)")
        split, stage = by_name[split_name]
        _, h, w, _ = g.tensors[split.outputs[0]].shape
        if not (1 <= grid[0] <= h and 1 <= grid[1] <= w) or grid == (1, 1):
            raise McuforgeError(f"--patch {mode}: a {grid[0]}x{grid[1]} grid on a {h}x{w} map")
        plan = _candidate(g, split, stage, grid)
        _measure(g, plan, io_in_arena)
        plan.layerwise_bytes = _planned(g, io_in_arena)
        return plan
    if not prefixes:
        return None
    layerwise = _planned(g, io_in_arena)
    cands = []
    for split, stage in prefixes:
        _, h, w, _ = g.tensors[split.outputs[0]].shape
        for n in range(1, min(h, MAX_GRID) + 1):
            for m in range(1, min(w, MAX_GRID) + 1):
                if (n, m) == (1, 1):
                    continue
                plan = _candidate(g, split, stage, (n, m))
                try:
                    _measure(g, plan, io_in_arena, tries=None)
                except (McuforgeError, ValueError):
                    continue        # e.g. a patch that would lie in the padding only
                if plan.mac_overhead <= (max_overhead if budget is None else max(max_overhead, 1.0)):
                    cands.append(plan)
    ranked = []
    for plan in cands:              # a quick estimate of each, to rank them
        try:
            plan.peak_bytes = _estimate(apply_patches(g, plan, copy=False), io_in_arena)
        except (McuforgeError, ValueError):
            continue                # e.g. a border patch smaller than its kernel
        ranked.append(plan)
    cands = ranked
    if budget is None:
        cands.sort(key=lambda p: (p.peak_bytes, p.patched_macs))
    else:
        cands.sort(key=lambda p: (p.peak_bytes > budget, p.patched_macs if p.peak_bytes <= budget else p.peak_bytes))
    best = None
    for plan in cands[:SHORTLIST]:
        _measure(g, plan, io_in_arena)
        fits = budget is not None and plan.peak_bytes <= budget
        key = (not fits, plan.patched_macs if fits else plan.peak_bytes, plan.peak_bytes)
        if plan.peak_bytes < layerwise * (1 + margin) and (best is None or key < best[0]):
            best = (key, plan)
    if best is None:
        return None
    best[1].layerwise_bytes = layerwise
    return best[1]


def lower_patched(g: Graph, features, mode, lower, io_in_arena: bool = True, budget: int | None = None,
                  max_overhead: float | None = None, keep=None, cm_layerwise=None):
    """Choose the patch schedule and lower it with `lower` (graph -> CModel, the C backend with
    its kernel-aware arena plan). The layer-wise graph is lowered too: with "auto" the patched
    one is kept only if its arena is smaller, and, given keep(cm_layerwise, g, cm_patched,
    patched graph) -> bool, only if keep agrees (the default's arena x instructions rule,
    codegen/c/lean.py). cm_layerwise: g already lowered, if the caller has it. Returns (cmodel,
    graph, PatchPlan | None, note)."""
    from .memory import plan_memory
    kind, _, _ = parse_mode(mode)
    base = g.copy()
    plan_memory(base, io_in_arena=io_in_arena)           # the layer-wise execution order
    plan = plan_patches(base, features, mode, budget, io_in_arena,
                        DEFAULT_MAX_OVERHEAD if max_overhead is None else max_overhead, margin=KERNEL_MARGIN)
    cm_l = cm_layerwise if cm_layerwise is not None else lower(g)
    if plan is None:
        return cm_l, g, None, "patches: no patch schedule has a smaller peak; layer-wise kept"
    pg = apply_patches(base, plan)
    cm_p = lower(pg)
    plan.arena_bytes, plan.layerwise_arena_bytes = cm_p.plan.size, cm_l.plan.size
    if kind == "auto" and cm_l.plan.size <= cm_p.plan.size:
        return cm_l, g, None, (f"patches: {plan.grid[0]}x{plan.grid[1]}@{plan.split} planned {cm_p.plan.size} B "
                               f"with its kernels, layer-wise {cm_l.plan.size} B: layer-wise kept")
    if keep is not None and not keep(cm_l, g, cm_p, pg):
        return cm_l, g, None, (f"patches: {plan.grid[0]}x{plan.grid[1]}@{plan.split} planned {cm_p.plan.size} B "
                               f"with its kernels, layer-wise {cm_l.plan.size} B: not worth its instructions, "
                               f"layer-wise kept")
    return cm_p, pg, plan, (f"patches: {plan.grid[0]}x{plan.grid[1]}@{plan.split}, arena {cm_p.plan.size} B "
                            f"(layer-wise {cm_l.plan.size} B), MACs +{plan.mac_overhead:.1%}")
