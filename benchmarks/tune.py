"""Quantization search on three shipped-dataset CNNs (MobileNet-, ShuffleNet-, ResNet-style on
scikit-learn's digits): exhaustive grid search, then random, genetic and Quantune search with
the same evaluation budget (median trials to come within 0.2 points of the grid's best over
seeds), ZeroQ's distilled calibration against real data, and the same search on Ray with 1 and
2 workers.

    python benchmarks/tune.py [--out build/tune] [--seeds 10] [--skip-ray]

The grid's results are kept in <out>/<arch>/grid.jsonl (a rerun resumes); the tuners then run on
that table: every configuration a tuner proposes was evaluated once by the grid, so a tuner's
trials cost nothing here, and its trials-to-best are what the same search would take live.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "examples"))

TOL = 0.002          # "within 0.2 points"
TUNERS = ("random", "genetic", "quantune", "quantune+transfer")
# under a flash budget also a random search that skips configurations whose weight bytes (known
# before any evaluation, as Quantune's profile knows them) exceed it: a stronger baseline
SUBBYTE_TUNERS = ("random", "random (fits budget)", "genetic", "quantune", "quantune+transfer")


def grid_table(arch, ev, space, out: Path, file: str = "grid.jsonl"):
    from mcuforge.search.runner import run_search
    from mcuforge.search.tuners import make_tuner
    t0 = time.perf_counter()
    res = run_search(ev, space, make_tuner("grid", space), space.size, out / arch / file,
                     header={"arch": arch, "samples": int(len(ev.y_eval))})
    return {space.key(t.config): t.result for t in res.trials}, time.perf_counter() - t0


def trials_to_best(name, space, table, seed, best, transfer=None, profile=None, flash_budget=None, tol=TOL):
    """profile: the model's ModelProfile (Quantune's features); transfer: (profile, config, score)
    of the other models."""
    from mcuforge.search.runner import run_search
    from mcuforge.search.tuners import make_tuner
    kw = {}
    if name == "quantune":
        kw = {"model_features": profile}
    if name == "quantune+transfer":
        name, kw = "quantune", {"transfer": transfer, "model_features": profile}
    if name == "random (fits budget)":
        name, kw = "random", {"fits": lambda c: profile.bytes_ratio(c) <= 1.0}
    tuner = make_tuner(name, space, seed, **kw)
    res = run_search(lambda c: table[space.key(c)], space, tuner, space.size, progress=False, stop_at=best - tol,
                     flash_budget=flash_budget)
    return res.trials_to(best, tol)


def subbyte_space():
    """Calibration method x activation scheme x the widths of the first, middle and last weight
    layers (8, 4, ternary): 216 configurations; clip 1.0, per-channel weights, 256 samples."""
    from mcuforge.search.space import Knob, Space, width_knobs
    return Space([Knob("calib", ("minmax", "p99.99", "mse", "kl")), Knob("clip", (1.0,)), Knob("weights", ("per_channel",)),
                  Knob("acts", ("asymmetric", "symmetric")), Knob("n_calib", (256,))] + width_knobs((8, 4, 2)))


def subbyte_search(archs, evs, feats, out, seeds, tables_out=None):
    """The search under a flash budget: the weight bytes of 8-bit first and last layers with 4-bit
    layers between. Best = the most accurate configuration within the budget (grid); a tuner's
    trial counts when it is within the budget and 0.2 points of that. Quantune's profile of each
    model knows that model's budget (its weight bytes over the budget are a feature)."""
    from mcuforge.search.quantune import ModelProfile
    space = subbyte_space()
    rep = {"space": space.to_json(), "space_size": space.size, "models": {}}
    tables = {}
    for arch in archs:
        ev = evs[arch]
        print(f"[bench] {arch}: sub-byte grid over {space.size} configurations", flush=True)
        table, secs = grid_table(arch, ev, space, out, "grid_subbyte.jsonl")
        ref = dict(calib="minmax", clip=1.0, weights="per_channel", acts="asymmetric", n_calib=256)
        budget = table[space.key(dict(ref, w_first=8, w_mid=4, w_last=8))]["weights_bytes"]
        int8_bytes = table[space.key(dict(ref, w_first=8, w_mid=8, w_last=8))]["weights_bytes"]
        feasible = {k: r for k, r in table.items() if r["weights_bytes"] <= budget}
        accs = np.array([r["accuracy"] for r in feasible.values()])
        best_key = max(feasible, key=lambda k: feasible[k]["accuracy"])
        tables[arch] = (table, budget)
        rep["models"][arch] = {"grid_seconds": round(secs, 1), "flash_budget": int(budget), "int8_weights_bytes": int(int8_bytes),
                               "feasible": len(feasible), "best": best_key, "best_accuracy": float(accs.max()),
                               "int8_best_accuracy": float(max(r["accuracy"] for k, r in table.items()
                                                               if r["weights_bytes"] == int8_bytes)),
                               "worst_accuracy": float(min(r["accuracy"] for r in table.values())),
                               "within_tol": int((accs >= accs.max() - TOL).sum()),
                               "at_best": int((accs >= accs.max()).sum())}
        print(f"[bench] {arch}: budget {budget} B ({budget / int8_bytes:.2f}x int8): {len(feasible)} feasible, best "
              f"{accs.max():.4f} ({best_key}), {rep['models'][arch]['within_tol']} within 0.2 points", flush=True)
    profiles = {a: ModelProfile(evs[a], feats[a], flash_budget=tables[a][1]) for a in archs}
    for arch in archs:
        m, (table, budget) = rep["models"][arch], tables[arch]
        from mcuforge.search.runner import score
        transfer = [(profiles[o], cfg, score(tables[o][0][space.key(cfg)], "acc", tables[o][1]))
                    for o in archs if o != arch for cfg in space.all()]
        m["trials_to_best"] = {}
        for name in SUBBYTE_TUNERS:
            runs = [trials_to_best(name, space, table, s, m["best_accuracy"], transfer, profiles[arch], budget)
                    for s in range(seeds)]
            m["trials_to_best"][name] = {"median": float(np.median(runs)), "runs": runs}
            # the exact best (tolerance 0): one result does not reach it unless the first guess
            # is the best, so this measures the learned part of the search
            runs = [trials_to_best(name, space, table, s, m["best_accuracy"], transfer, profiles[arch], budget, 0.0)
                    for s in range(seeds)]
            m.setdefault("trials_to_exact", {})[name] = {"median": float(np.median(runs)), "runs": runs}
        print(f"[bench] {arch} (sub-byte, flash budget): median trials to within 0.2 points: " +
              ", ".join(f"{k} {v['median']:g}" for k, v in m["trials_to_best"].items()) + "; to the exact best: " +
              ", ".join(f"{k} {v['median']:g}" for k, v in m["trials_to_exact"].items()), flush=True)
    if tables_out is not None:
        write_tables(tables_out, space, archs, tables, profiles, int(len(evs[archs[0]].y_eval)))
    return rep


def write_tables(path: Path, space, archs, tables, profiles, samples: int):
    """The measured tables tests/search/test_quantune_tables.py replays: per model its flash
    budget, Quantune's profile (vector, describe() of every configuration) and every
    configuration's accuracy and weight bytes, under the key "subbyte" (the previous "subbyte"
    table moves to "subbyte_<its samples>")."""
    data = json.loads(path.read_text()) if path.is_file() else {}
    if "subbyte" in data and data["subbyte"].get("samples", 400) != samples:
        old = data.pop("subbyte")
        data[f"subbyte_{old.get('samples', 400)}"] = old
    data["subbyte"] = {"space": space.to_json(), "samples": samples, "models": {a: {
        "flash_budget": int(tables[a][1]), "vector": profiles[a].vector.tolist(),
        "accuracy": [tables[a][0][space.key(c)]["accuracy"] for c in space.all()],
        "weights_bytes": [tables[a][0][space.key(c)]["weights_bytes"] for c in space.all()],
        "describe": [[round(float(v), 5) for v in profiles[a].describe(c)] for c in space.all()]} for a in archs}}
    path.write_text(json.dumps(data, separators=(",", ":")))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(HERE.parent / "build" / "tune"))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--archs", default="mobilenet,shufflenet,resnet")
    ap.add_argument("--zeroq-iters", type=int, default=100)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--skip-zeroq", action="store_true")
    ap.add_argument("--ray-trials", type=int, default=24)
    ap.add_argument("--skip-subbyte", action="store_true", help="skip the search with weight widths")
    ap.add_argument("--only-subbyte", action="store_true",
                    help="train the models and run only the search with weight widths (no int8 grid, ZeroQ, Ray)")
    ap.add_argument("--eval-samples", type=int, default=None, help="test digits the accuracy is measured on (all)")
    ap.add_argument("--write-tables", default=None, help="write the sub-byte tables the tests replay to this JSON file")
    ap.add_argument("--train-digits", type=int, default=1000,
                    help="digits the CNNs are trained on (and calibrated from); the other 1,797 - N are the test set")
    args = ap.parse_args(argv)
    import digits_cnns as dc
    from mcuforge.search.evaluate import Evaluator
    from mcuforge.search.quantune import ModelProfile, model_features
    from mcuforge.search.space import default_space
    out = Path(args.out)
    archs = args.archs.split(",")
    space = default_space(n_calib=(256,))
    report = {"space": space.to_json(), "space_size": space.size, "tolerance_points": 100 * TOL, "models": {}}
    tables, feats, evs, data = {}, {}, {}, {}
    for arch in archs:
        path, acc, (xtr, ytr, xte, yte) = dc.trained_onnx(arch, out / "models", epochs=args.epochs, n_train=args.train_digits)
        xte, yte = xte[:args.eval_samples], yte[:args.eval_samples]
        ev = Evaluator(path, xte, yte, xtr[:256], requant="double")   # explicit: the cached grids stay valid
        if args.only_subbyte:
            feats[arch], evs[arch], data[arch] = model_features(ev), ev, (xtr, xte, yte)
            continue
        print(f"[bench] {arch}: float accuracy {acc:.4f}; grid over {space.size} configurations", flush=True)
        table, secs = grid_table(arch, ev, space, out)
        tables[arch], feats[arch], evs[arch], data[arch] = table, model_features(ev), ev, (xtr, xte, yte)
        accs = np.array([r["accuracy"] for r in table.values()])
        best_key = max(table, key=lambda k: table[k]["accuracy"])
        report["models"][arch] = {
            "onnx": str(path), "float_accuracy": acc, "grid_seconds": round(secs, 1),
            "best": best_key, "best_accuracy": float(accs.max()), "worst_accuracy": float(accs.min()),
            "median_accuracy": float(np.median(accs)),
            "within_tol": int((accs >= accs.max() - TOL).sum()),
            "grid_trials_to_best": 1 + [i for i, c in enumerate(space.all()) if table[space.key(c)]["accuracy"] >= accs.max() - TOL][0],
            "weights_bytes": sorted({r["weights_bytes"] for r in table.values()}),
            "arena_bytes": sorted({r["arena_bytes"] for r in table.values()}),
        }
        print(f"[bench] {arch}: best {accs.max():.4f} ({best_key}), worst {accs.min():.4f}, "
              f"{report['models'][arch]['within_tol']} configurations within 0.2 points", flush=True)

    if args.only_subbyte:
        report = {"subbyte": subbyte_search(archs, evs, feats, out, args.seeds,
                                            Path(args.write_tables) if args.write_tables else None)}
        (out / "report_subbyte.json").write_text(json.dumps(report, indent=1))
        print(markdown_subbyte(report["subbyte"]))
        return
    profiles = {a: ModelProfile(evs[a], feats[a]) for a in archs}
    for arch in archs:
        m = report["models"][arch]
        best = m["best_accuracy"]
        transfer = [(profiles[o], cfg, r["accuracy"]) for o in archs if o != arch
                    for cfg in space.all() for r in [tables[o][space.key(cfg)]]]
        m["trials_to_best"] = {}
        for name in TUNERS:
            runs = [trials_to_best(name, space, tables[arch], s, best, transfer, profiles[arch]) for s in range(args.seeds)]
            m["trials_to_best"][name] = {"median": float(np.median(runs)), "runs": runs}
        print(f"[bench] {arch}: median trials to within 0.2 points: " +
              ", ".join(f"{k} {v['median']:g}" for k, v in m["trials_to_best"].items()), flush=True)

    from mcuforge.search.zeroq import distill
    for arch in [] if args.skip_zeroq else archs:
        m, (xtr, xte, yte) = report["models"][arch], data[arch]
        x, info = distill(m["onnx"], n=64, iters=args.zeroq_iters, seed=0, input_range=(0.0, 1.0))
        ev_z = Evaluator(m["onnx"], xte, yte, xtr[:256], distilled=x, requant="double")
        best_cfg = dict(zip(space.names, [parse(v) for v in [kv.split("=")[1] for kv in m["best"].split(",")]]))
        rows = {}
        for label, cfg in [("default (minmax, per-channel, asymmetric)",
                            dict(calib="minmax", clip=1.0, weights="per_channel", acts="asymmetric", n_calib=256)),
                           ("grid best", best_cfg)]:
            real = tables[arch][space.key(cfg)]["accuracy"]
            dist = ev_z(dict(cfg, data="distilled"))["accuracy"]
            rows[label] = {"real": real, "distilled": dist}
        m["zeroq"] = {"seconds": round(info["seconds"], 1), "loss_start": info["loss_start"],
                      "loss_end": info["loss_end"], "iters": args.zeroq_iters, "rows": rows}
        print(f"[bench] {arch}: ZeroQ {info['seconds']:.0f} s, " +
              "; ".join(f"{k}: real {v['real']:.4f} distilled {v['distilled']:.4f}" for k, v in rows.items()), flush=True)

    if not args.skip_subbyte:
        report["subbyte"] = subbyte_search(archs, evs, feats, out, args.seeds,
                                           Path(args.write_tables) if args.write_tables else None)
    if not args.skip_ray:
        report["ray"] = ray_check(evs[archs[0]], space, args.ray_trials, out)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(markdown(report))
    plot(report, out / "tune.png")


def parse(v):
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def ray_check(ev, space, trials, out):
    import ray

    from mcuforge.search.ray_runner import RayBackend
    from mcuforge.search.runner import run_search
    from mcuforge.search.tuners import make_tuner
    rows = {}
    ev.warm(space)
    import xgboost  # noqa: F401  (imported once before timing: its import is not the search)
    for workers in (1, 2):
        t0 = time.perf_counter()
        backend = RayBackend(ev, workers)
        t_init = time.perf_counter() - t0
        res = run_search(ev, space, make_tuner("quantune", space, 0), trials, backend=backend, batch=4, progress=False)
        backend.close()
        rows[workers] = {"wall_seconds": round(time.perf_counter() - t0, 1), "ray_start_seconds": round(t_init, 1),
                         "search_seconds": round(res.seconds, 1), "best": space.key(res.best.config),
                         "evaluation_seconds": round(sum(t.result["seconds"] for t in res.trials), 1),
                         "best_accuracy": res.best.result["accuracy"],
                         "trials": [space.key(t.config) for t in res.trials]}
        print(f"[bench] Ray {workers} worker(s): {rows[workers]['search_seconds']} s search, "
              f"{rows[workers]['evaluation_seconds']} s of evaluations "
              f"(+{t_init:.0f} s start), best {rows[workers]['best']}", flush=True)
        assert not ray.is_initialized()
    rows["same_best"] = rows[1]["best"] == rows[2]["best"] and rows[1]["trials"] == rows[2]["trials"]
    return rows


def markdown(rep) -> str:
    lines = [f"Search space: {rep['space_size']} configurations "
             f"({', '.join(f'{k}: {len(v)}' for k, v in rep['space'].items())}).", "",
             "| model | float | grid best | worst | within 0.2 pt | grid | " + " | ".join(TUNERS) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(TUNERS)]
    for arch, m in rep["models"].items():
        t = m["trials_to_best"]
        lines.append(f"| {arch} | {100 * m['float_accuracy']:.2f} | {100 * m['best_accuracy']:.2f} | "
                     f"{100 * m['worst_accuracy']:.2f} | {m['within_tol']} | {m['grid_trials_to_best']} | " +
                     " | ".join(f"{t[k]['median']:g}" for k in TUNERS) + " |")
    lines += ["", "| model | ZeroQ time (s) | config | real data | distilled |", "|---|---|---|---|---|"]
    for arch, m in rep["models"].items():
        z = m.get("zeroq")
        if z:
            for label, r in z["rows"].items():
                lines.append(f"| {arch} | {z['seconds']} | {label} | {100 * r['real']:.2f} | {100 * r['distilled']:.2f} |")
    if "subbyte" in rep:
        lines += ["", markdown_subbyte(rep["subbyte"])]
    if "ray" in rep:
        r = rep["ray"]
        lines += ["", "| Ray workers | search wall time (s) | Ray start (s) | best configuration | same trials as 1 worker |",
                  "|---|---|---|---|---|"]
        for w in (1, 2):
            lines.append(f"| {w} | {r[w]['search_seconds']} | {r[w]['ray_start_seconds']} | {r[w]['best']} | "
                         f"{'yes' if w == 1 or r['same_best'] else 'no'} |")
    return "\n".join(lines)


def markdown_subbyte(sb) -> str:
    lines = [f"Sub-byte search space: {sb['space_size']} configurations "
             f"({', '.join(f'{k}: {len(v)}' for k, v in sb['space'].items())}); flash budget: the weight bytes of "
             "8-bit first and last layers with 4-bit layers between.", "",
             "| model | int8 weights B | budget B | feasible | best int8 (over budget) | best within budget | "
             "worst | within 0.2 pt | " + " | ".join(SUBBYTE_TUNERS) + " |",
             "|---|---|---|---|---|---|---|---|" + "---|" * len(SUBBYTE_TUNERS)]
    for arch, m in sb["models"].items():
        t = m["trials_to_best"]
        lines.append(f"| {arch} | {m['int8_weights_bytes']} | {m['flash_budget']} | {m['feasible']} | "
                     f"{100 * m['int8_best_accuracy']:.2f} | {100 * m['best_accuracy']:.2f} | "
                     f"{100 * m['worst_accuracy']:.2f} | {m['within_tol']} | " +
                     " | ".join(f"{t[k]['median']:g}" for k in SUBBYTE_TUNERS if k in t) + " |")
    if all("trials_to_exact" in m for m in sb["models"].values()):
        lines += ["", "Median trials to the exact best accuracy within the budget (tolerance 0):", "",
                  "| model | configurations at the best | " + " | ".join(SUBBYTE_TUNERS) + " |",
                  "|---|---|" + "---|" * len(SUBBYTE_TUNERS)]
        for arch, m in sb["models"].items():
            t = m["trials_to_exact"]
            lines.append(f"| {arch} | {m.get('at_best', '')} | " +
                         " | ".join(f"{t[k]['median']:g}" for k in SUBBYTE_TUNERS if k in t) + " |")
    return "\n".join(lines)


def plot(rep, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    archs = list(rep["models"])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    w = 0.8 / len(TUNERS)
    for i, name in enumerate(TUNERS):
        ax.bar(np.arange(len(archs)) + i * w, [rep["models"][a]["trials_to_best"][name]["median"] for a in archs],
               w, label=name)
    ax.set_xticks(np.arange(len(archs)) + 0.4 - w / 2, archs)
    ax.set_ylabel("median trials to within 0.2 pt")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
