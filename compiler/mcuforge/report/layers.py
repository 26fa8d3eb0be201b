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
        w_bytes = int(sum(a.values.nbytes for a in l.arrays))
        rng = ranges.get(out)
        if q is not None and t.dtype == "int8":
            qrange = ((-128 - q.zp) * q.s, (127 - q.zp) * q.s)
        else:
            qrange = None
        rows.append({
            "layer": l.cid, "op": n.op, "name": n.name, "kernel": l.kernel,
            "in_shape": list(g.tensors[n.inputs[0]].shape), "out_shape": list(t.shape),
            "macs": int(l.macs), "weight_bytes": w_bytes,
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
             f"{r['weight_bytes']:,}", "io" if r["arena_offset"] is None else str(r["arena_offset"]),
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
    live = arena_timeline(cm)
    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
    xs = np.arange(len(live))
    ax.bar(xs, live, color="#4c72b0", label="live tensors (bytes)")
    ax.axhline(cm.plan.size, color="#c44e52", linestyle="--", label=f"arena size {cm.plan.size} B")
    ax.set_xlabel("layer (execution order)")
    ax.set_ylabel("bytes")
    ax.set_title(f"{info['name']}: arena use per layer")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "arena.png", metadata={"Software": None})
    plt.close(fig)
