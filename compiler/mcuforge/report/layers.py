"""Per-layer report: a table in the terminal, Markdown on disk, and a PNG of arena use."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..codegen.jinja import render


def layer_table(g, cm, ranges: dict) -> list[dict]:
    rows = []
    for l in cm.layers:
        n = l.node
        out = n.outputs[0]
        t = g.tensors[out]
        q = t.quant
        w_bytes = int(sum(a.nbytes for a in l.arrays))
        rng = ranges.get(out)
        if q is not None and t.dtype == "int8":
            qrange = ((-128 - q.zp) * q.s, (127 - q.zp) * q.s)
        else:
            qrange = None
        rows.append({
            "layer": l.cid, "op": n.op, "name": n.name, "kernel": l.kernel,
            "in_shape": list(g.tensors[n.inputs[0]].shape), "out_shape": list(t.shape),
            "macs": int(l.macs), "weight_bytes": w_bytes,
            "weight_bits": int(n.attrs["weight_bits"]) if "weight_bits" in n.attrs else None,
            "arena_offset": cm.plan.offsets.get(out), "out_bytes": t.nbytes,
            "calib_range": [float(rng[0]), float(rng[1])] if rng else None,
            "quant_range": [float(qrange[0]), float(qrange[1])] if qrange else None,
            "scale": float(q.s) if q is not None and q.scale.size == 1 else None,
            "zero_point": int(q.zp) if q is not None and q.scale.size == 1 else None,
        })
    return rows


def _fmt_range(r):
    return "" if r is None else f"[{r[0]:.3g}, {r[1]:.3g}]"


def render_text(info: dict) -> str:
    rows = info["layers"]
    head = ["#", "op", "kernel", "out shape", "MACs", "weights B", "arena off", "bytes", "range"]
    body = [[r["layer"], r["op"], r["kernel"], "x".join(map(str, r["out_shape"])), f"{r['macs']:,}",
             f"{r['weight_bytes']:,}" + (f" (w{r['weight_bits']})" if r.get("weight_bits") else ""), "io" if r["arena_offset"] is None else str(r["arena_offset"]),
             f"{r['out_bytes']:,}", _fmt_range(r["quant_range"] or r["calib_range"])] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    out = [f"{info['name']} ({info['source']}) -> {info['quant']} C for {info['target']}",
           line(head), line(["-" * w for w in widths])]
    out += [line(b) for b in body]
    out.append(f"total: {info['macs']:,} MACs, weights {info['weights_bytes']:,} B, arena {info['arena_bytes']:,} B, "
               f"I/O buffers {info['io_bytes']:,} B")
    return "\n".join(out)


def arena_timeline(cm) -> list[int]:
    steps = len(cm.layers)
    return [cm.plan.peak_at(i) for i in range(steps)]


def write_report(info: dict, cm, out: Path):
    (out / "report.md").write_text(render("report/report.md.j2", info=info, rows=info["layers"],
                                          fmt_range=_fmt_range))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the plot is optional; the Markdown report is not
        return
    from matplotlib.patches import Rectangle
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    steps = len(cm.layers)
    colors = plt.get_cmap("tab20").colors
    step_of_scratch = {f"__scratch_{l.cid}": i for i, l in enumerate(cm.layers)}
    boxes = [(lt.first, lt.last, cm.plan.offsets[lt.tensor], lt.size, False)
             for lt in cm.plan.lifetimes if lt.tensor in cm.plan.offsets]
    for name, off in cm.plan.offsets.items():
        if name in step_of_scratch:
            i = step_of_scratch[name]
            boxes.append((i, i, off, int(cm.layers[i].params.get("scratch_bytes", 0)), True))
    for k, (first, last, off, size, scratch) in enumerate(boxes):
        ax.add_patch(Rectangle((first - 0.4, off), last - first + 0.8, size, alpha=0.75,
                               facecolor="none" if scratch else colors[k % len(colors)],
                               edgecolor="black", hatch="//" if scratch else None, linewidth=0.5))
    ax.plot(range(steps), arena_timeline(cm), color="black", marker=".", linewidth=1,
            label="bytes of live tensors")
    ax.axhline(cm.plan.size, color="#c44e52", linestyle="--", label=f"arena size {cm.plan.size} B")
    pastes = [i for i, l in enumerate(cm.layers) if l.node.op == "patch_paste"]
    if pastes:      # the patch stage (schedule/patches.py): its layers run once per patch
        ax.axvspan(-0.5, pastes[-1] + 0.5, color="#8fbc8f", alpha=0.18,
                   label=f"patch stage ({len(pastes)} patches)")
    ax.set_xlim(-0.6, steps - 0.4)
    ax.set_ylim(0, max(cm.plan.size, 1) * 1.08)
    ax.set_xlabel("layer (execution order)")
    ax.set_ylabel("arena offset (bytes)")
    ax.set_title(f"{info['name']}: tensors in the arena over time (hatched: kernel scratch)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "arena.png", metadata={"Software": None})
    plt.close(fig)
