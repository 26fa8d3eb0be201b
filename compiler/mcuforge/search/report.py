"""What a search leaves behind: a table of all trials (CSV and Markdown), the Pareto front of
accuracy against flash (and instructions, when measured), and its plot."""
from __future__ import annotations

import csv
from pathlib import Path

from .runner import SearchResult, flash_of

COST_COLUMNS = ("weights_bytes", "arena_bytes", "flash_bytes", "instructions")


def write_table(res: SearchResult, path) -> Path:
    path = Path(path)
    costs = [c for c in COST_COLUMNS if any(c in t.result for t in res.trials)]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trial", *res.space.names, "accuracy", *costs, "seconds", "best"])
        for t in res.trials:
            w.writerow([t.trial, *(t.config[n] for n in res.space.names), f"{t.result['accuracy']:.6f}",
                        *(t.result.get(c, "") for c in costs), t.result.get("seconds", ""),
                        "*" if t is res.best else ""])
    return path


def pareto_front(trials, cost=flash_of) -> list:
    """Trials no other trial beats on both accuracy (higher) and cost (lower)."""
    pts = sorted(trials, key=lambda t: (cost(t.result), -t.result["accuracy"], t.trial))
    front, best_acc = [], -1.0
    for t in pts:
        if t.result["accuracy"] > best_acc:
            front.append(t)
            best_acc = t.result["accuracy"]
    return front


def plot_pareto(res: SearchResult, path, title: str = "") -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    axes_def = [("flash (bytes)", flash_of)]
    if any("instructions" in t.result for t in res.trials):
        axes_def.append(("instructions per inference", lambda r: r.get("instructions", 0)))
    axes_def.append(("arena (bytes)", lambda r: r["arena_bytes"]))
    fig, axes = plt.subplots(1, len(axes_def), figsize=(5 * len(axes_def), 4), squeeze=False)
    for ax, (label, cost) in zip(axes[0], axes_def):
        xs = [cost(t.result) for t in res.trials]
        ys = [100 * t.result["accuracy"] for t in res.trials]
        ax.scatter(xs, ys, s=14, alpha=0.5, label="trials")
        front = pareto_front(res.trials, cost)
        ax.plot([cost(t.result) for t in front], [100 * t.result["accuracy"] for t in front], "r.-", label="Pareto front")
        ax.scatter([cost(res.best.result)], [100 * res.best.result["accuracy"]], marker="*", s=160, c="k", label="chosen")
        ax.set_xlabel(label)
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(loc="lower right", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
