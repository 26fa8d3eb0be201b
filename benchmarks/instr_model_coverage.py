"""Which kernel keys (kernel + window, quant/instr_model.py) real models reach at weight widths 8 /
4 / 2 on Cortex-M4 / M55, lowered as --weight-bits mixed --instr-budget prices them (quant.mixed.
lower_uniform, every layer on its fastest kernel), and which of them have no instruction model of
their own: borrowed (a sibling's model, InstrModel.sibling) or missing (--instr-budget refuses the
model). No QEMU; prints one line per key that is not fitted, with the layers reaching it.

    PYTHONPATH=compiler python benchmarks/instr_model_coverage.py [model names or paths ...]

Default models: the float ONNX corpus fixtures with a calibration set (tests/corpus/fixtures) and
the float mlperf-tiny .tflite models (/work/shared/models/mlperf-tiny, uniform calibration noise).
At this commit: 42 keys fitted, one borrowed (M4, vww_mbv1_96_float's conv_2d_26 at 4 bits:
`mcf_conv2d_s8_w4_dsp_lsh/1x1`, double rounding, from `mcf_conv2d_s8_w4_dsp/1x1`; 3 % off).

    ... --measure [models]          QEMU: every conv / dense layer's kernel call counted exactly
                                    (sim/layer_counts.py) at 8 / 4 / 2 bits on M4 and M55, stored in
                                    benchmarks/data/instr_model_layers.json (about 1 min a model)
    ... --errors [--before REV]     the committed models' per-key max / mean / instruction-weighted
                                    relative errors on the stored layers (REV's -> the committed ones)
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "compiler"))

FIXTURES = ROOT / "tests" / "corpus" / "fixtures"
MLPERF = Path(os.environ.get("MCUFORGE_MLPERF_TINY", ROOT.parent / "shared" / "models" / "mlperf-tiny"))
DEFAULT = ["mnasnet", "mobilenet_v3_small", "efficientnet_lite", "efficientnet_b0", "ds_cnn", "mobilenet_v2",
           "mobilenet_v1", "shufflenet_v2", "vww_mbv1_96_float", "ic_resnet8_float", "ad_fcae_float"]


def model_and_calib(name: str):
    if Path(name).is_file():
        return Path(name), None
    if (FIXTURES / f"{name}.ts.onnx").is_file():
        return FIXTURES / f"{name}.ts.onnx", np.load(FIXTURES / f"{name}.calib.npy")[:4]
    return MLPERF / f"{name}.tflite", None


def graph_and_ranges(name: str):
    """(path, canonical graph, minmax ranges of its calibration set: the fixture's, or uniform noise
    for an mlperf-tiny model)."""
    from mcuforge.api import load_model, load_samples
    from mcuforge.passes.pipeline import canonicalize
    from mcuforge.quant.calibrate import calibrate
    path, calib = model_and_calib(name)
    g = canonicalize(load_model(path))
    if calib is None:
        shape = g.tensors[g.inputs[0]].shape
        calib = np.random.default_rng(0).uniform(0, 1, (4,) + tuple(shape[1:])).astype(np.float32)
    return path, g, calibrate(g, load_samples(calib, g), "minmax")


def coverage(names, cores=("cortex-m4", "cortex-m55"), widths=(8, 4, 2)) -> dict:
    """{(core, key, status): [layer descriptions]}; status "own", "borrow <key>" or "missing"."""
    from mcuforge.errors import McuforgeError
    from mcuforge.quant.instr_model import kernel_key, load_instr_model
    from mcuforge.quant.mixed import MixedOptions, lower_uniform
    from mcuforge.targets import load_core
    found: dict = {}
    for name in names:
        path, g, ranges = graph_and_ranges(name)
        for core in cores:
            model = load_instr_model(core)
            for bits in widths:
                rows, _ = lower_uniform(g, ranges, bits, load_core(core), MixedOptions(speed_first=True))
                for r in rows:
                    if r["op"] not in ("conv2d", "dense"):
                        continue
                    key = kernel_key(r)
                    model.borrowed.clear()
                    try:
                        model.predict(r)
                        status = "own" if key in model.coefs else f"borrow {next(iter(model.borrowed))[1]}"
                    except McuforgeError:
                        status = "missing"
                    found.setdefault((core, key, status), []).append(
                        f"{path.stem}:{r['name']}:w{bits}:{r['in_shape']}->{r['out_shape']}")
    return found


LAYER_KEYS = ("name", "kernel", "window", "macs", "in_shape", "out_shape")
CACHE = ROOT / "benchmarks" / "data" / "instr_model_layers.json"
MLPERF_MODELS = {"vww_mbv1_96_float", "ic_resnet8_float", "ad_fcae_float", "ds_cnn.ts"}   # ds_cnn: the KWS net
BOARDS = {"cortex-m4": "mps2-an386", "cortex-m55": "mps3-an547"}


def measure_layers(name: str, cores=("cortex-m4", "cortex-m55"), widths=(8, 4, 2), work: Path | None = None) -> list[dict]:
    """QEMU's exact executed instructions of every convolution / dense layer of one model (per-layer
    counting, mcuforge.sim.layer_counts), built as the instruction budget prices it (quant.mixed:
    the minmax ranges of the calibration set, each width uniform, every layer on its fastest kernel):
    one record per layer with the report row's fields the models read (LAYER_KEYS) and `measured`."""
    import tempfile

    from mcuforge.api import compile_model, simulate
    from mcuforge.quant.instr_model import annotate_rows
    from mcuforge.quant.int8 import quantize_int8
    from mcuforge.quant.mixed import build_requant
    from mcuforge.sim.layer_counts import layer_instructions
    path, g, ranges = graph_and_ranges(name)
    recs = []
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        for core in cores:
            for bits in widths:
                q = quantize_int8(g, ranges, weight_bits=bits)
                q.meta["requant"] = build_requant(g)
                out = Path(tmp) / f"{core}_{bits}"
                res = compile_model(q, out, target=core, quiet=True, speed_first=True)
                simulate(out, board=BOARDS[core], x=None, quiet=True)
                rows = [r for r in annotate_rows(res.graph, res.info["layers"]) if r["op"] in ("conv2d", "dense")]
                for r, n in zip(rows, layer_instructions(out, BOARDS[core], rows)):
                    recs.append(dict({k: r.get(k) for k in LAYER_KEYS}, model=path.stem, core=core, bits=bits,
                                     measured=int(n)))
    return recs


def load_cache(path: Path = CACHE) -> list[dict]:
    import json
    return json.loads(path.read_text())["layers"] if path.is_file() else []


def save_cache(recs: list[dict], path: Path = CACHE):
    import json
    path.parent.mkdir(parents=True, exist_ok=True)
    about = json.dumps("QEMU per-layer executed instructions of real models' conv / dense layers "
                       "(benchmarks/instr_model_coverage.py --measure)")
    body = ",\n".join(json.dumps(r, separators=(",", ":")) for r in recs)       # one layer a line
    path.write_text(f'{{"about": {about},\n"layers": [\n{body}\n]}}\n')


def error_table(recs: list[dict], cores=("cortex-m4", "cortex-m55"), models: dict | None = None) -> list[tuple]:
    """Per core and kernel key: (core, key, layers, max |rel err|, mean |rel err|, instruction-weighted
    error sum |pred - measured| / sum measured, worst layer) of the models' predictions (default: the
    committed ones) against the measured per-layer counts; key "*" / "MLPerf": all layers / those of
    MLPERF_MODELS."""
    from mcuforge.errors import McuforgeError
    from mcuforge.quant.instr_model import kernel_key, load_instr_model
    out = []
    for core in cores:
        model = (models or {}).get(core) or load_instr_model(core)
        errs: dict = {}
        for r in recs:
            if r["core"] != core:
                continue
            try:
                p = model.predict(r)
            except McuforgeError:
                p = float("nan")
            item = (p, r["measured"], f"{r['model']}:{r['name']}:w{r['bits']}")
            for k in (kernel_key(r), "*") + (("MLPerf",) if r["model"] in MLPERF_MODELS else ()):
                errs.setdefault(k, []).append(item)
        for k, v in sorted(errs.items(), key=lambda kv: (kv[0] in ("*", "MLPerf"), kv[0])):
            p, m = np.array([x[0] for x in v]), np.array([x[1] for x in v], np.float64)
            e = np.abs(p / m - 1)
            ok = np.isfinite(e)
            worst = v[int(np.nanargmax(e))][2] if ok.any() else v[0][2]
            out.append((core, k, len(v), float(np.max(e[ok])) if ok.any() else float("nan"),
                        float(np.mean(e[ok])) if ok.any() else float("nan"),
                        float(np.sum(np.abs(p - m)[ok]) / np.sum(m[ok])) if ok.any() else float("nan"), worst))
    return out


def models_at(rev: str) -> dict:
    """The committed instruction models of git revision `rev` (for a before / after table)."""
    import subprocess
    import tempfile

    from mcuforge.quant.instr_model import load_instr_model
    out = {}
    for core in BOARDS:
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:targets/instr_models/{core}.toml"],
                              capture_output=True, text=True, check=True).stdout
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write(text)
        out[core] = load_instr_model(core, Path(f.name))
    return out


def print_error_table(recs, before: str | None = None):
    """Markdown: per core and key, the max / mean / instruction-weighted relative errors on real
    layers (with `before`, a git revision: its models' errors -> the committed ones')."""
    after = error_table(recs)
    old = {(c, k): row for c, k, *row in error_table(recs, models=models_at(before))} if before else {}
    print("| core | kernel key | layers | max rel err | mean rel err | weighted err | worst layer |")
    print("|---|---|---:|---:|---:|---:|---|")
    for core, k, n, mx, mean, wt, worst in after:
        o = old.get((core, k))
        cell = (lambda i, v: f"{o[i]:.3f} -> {v:.3f}") if o else (lambda i, v: f"{v:.3f}")
        print(f"| {core.replace('cortex-', '')} | {k} | {n} | {cell(1, mx)} | {cell(2, mean)} | {cell(3, wt)} | {worst} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", default=DEFAULT)
    p.add_argument("--measure", action="store_true",
                   help=f"measure the models' layers on QEMU (per-layer counts) into {CACHE.name} (replacing their records)")
    p.add_argument("--errors", action="store_true", help=f"the models' per-key errors on the layers in {CACHE.name}")
    p.add_argument("--before", metavar="REV", help="with --errors: the models of git revision REV -> the committed ones")
    args = p.parse_args(argv)
    if args.measure:
        recs = load_cache()
        for name in args.models:
            new = measure_layers(name)
            stem = new[0]["model"] if new else name
            recs = [r for r in recs if r["model"] != stem] + new
            save_cache(recs)
            print(f"{stem}: {len(new)} layer records", flush=True)
    if args.measure or args.errors:
        print_error_table(load_cache(), args.before)
        return
    found = coverage(args.models)
    for (core, key, status), layers in sorted(found.items()):
        if status != "own":
            print(f"{core} {key}: {status}, {len(layers)} layer(s), e.g. {layers[0]}")
    own = sum(1 for (_, _, s) in found if s == "own")
    print(f"{own} keys with their own model, {len(found) - own} borrowed or missing")


if __name__ == "__main__":
    main()
