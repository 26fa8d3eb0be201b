"""Where does int8-from-ONNX differ from onnxruntime's QDQ model end to end? (issue 9, gap 3)

For one deep corpus network (default mobilenet_v2, TorchScript export) quantized by onnxruntime's
quantize_static (QDQ, per-channel int8), compare our golden model with onnxruntime run without
graph optimizations (exact simulated quantization in float32), on N random inputs drawn like the
calibration samples:
  - end to end: share of identical outputs / within 1 LSB;
  - per layer (each layer fed OUR int8 input on both sides, tests/corpus/per_layer.py): share of
    identical outputs, so only that layer's arithmetic differs;
and repeat both with the golden model's requantization replaced by
  single      one rounding of the exact product x * M * 2^(shift - 31), ties up: the
              `requant="single"` compile option (golden model and C kernels, integer, deterministic),
  half_even   the same with ties to even (onnxruntime's rounding rule), to see whether ties matter.
If a rounding rule were the cause, these would close the gap; if onnxruntime's float32
arithmetic (dequantized products summed in float32, then y / scale rounded) were the cause, they
would not. Prints a Markdown table; docs/int16.md records the result.

    PYTHONPATH=compiler python benchmarks/qdq_gap.py [net] [exporter] [n_samples]
"""
from __future__ import annotations

import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _round_shift(p: np.ndarray, n: np.ndarray) -> np.ndarray:
    """p / 2^n rounded once, ties to even (p int64, 1 <= n <= 62)."""
    q = p >> n
    r = p - (q << n)
    half = np.int64(1) << (n - 1)
    return q + ((r > half) | ((r == half) & ((q & 1) == 1)))


@contextmanager
def requant_rule(g, rule: str):
    """Run the golden model with one of the requantization roundings (the graph's own setting, as
    compile_model(requant=...) records it, or a patched rule for the experiment)."""
    from mcuforge.reference import arith
    original = arith.multiply_by_quantized_multiplier
    if rule in arith.ROUNDING_MODES:
        g.meta["requant"] = rule
        try:
            yield
        finally:
            g.meta.pop("requant", None)
        return

    def single(x, multiplier, shift):
        x, m, s = (np.asarray(v, np.int64) for v in (x, multiplier, shift))
        left = np.maximum(s, 0)
        xs = arith.wrap_int32(x << left)
        n = 31 + np.maximum(-s, 0)
        return _round_shift(xs * m, n)
    arith.multiply_by_quantized_multiplier = single
    try:
        yield
    finally:
        arith.multiply_by_quantized_multiplier = original


def main(net="mobilenet_v2", exporter="ts", n=64):
    from corpus import check
    from corpus.per_layer import compare_layers
    from mcuforge.api import prepare_graph
    from mcuforge.reference.executor import Executor

    calib, _ = check.samples(net)
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((n,) + calib.shape[1:]) * calib.std() + calib.mean()).astype(np.float32)
    tmp = Path(tempfile.mkdtemp())
    qdq = check.ort_qdq_model(check.onnx_path(net, exporter), calib, tmp / "qdq.onnx")
    # the tables (lower_to_lut) as TFLite rounds them, the measured rule applied to the requantizations
    g, _ = prepare_graph(qdq, quant="int8", calib=calib, quiet=True, requant="double")
    want = check.ort_run(qdq, x, disable_opt=True)[0]
    (inp,), (out,) = g.inputs, g.outputs
    qi, qo = g.tensors[inp].quant, g.tensors[out].quant
    xq = np.clip(np.round(x / qi.s) + qi.zp, -128, 127).astype(np.int8)
    perm = g.meta.get("io_perm", {}).get(inp)
    wq = np.clip(np.round(want / qo.s) + qo.zp, -128, 127).astype(np.int64)
    print(f"{net} ({exporter}), {n} random inputs, {len(g.nodes)} layers, output {tuple(want.shape[1:])}\n")
    print("| requantization | end to end: identical | within 1 LSB | max LSB | per layer: mean identical "
          "| worst layer identical | layers all within 1 LSB |")
    print("|---|---|---|---|---|---|---|")
    for rule in ("double", "single", "half_even"):
        with requant_rule(g, rule):
            ex = Executor(g)
            got = np.stack([ex.run({inp: (xq[i:i + 1].transpose(perm) if perm else xq[i:i + 1])})[out][0]
                            for i in range(n)]).astype(np.int64)
            d = np.abs(got.reshape(wq.shape) - wq)
            rows = compare_layers(qdq, g, x[:8], tmp)
        ex_rates = [r["exact"] for r in rows]
        print(f"| {rule} | {np.mean(d == 0):.1%} | {np.mean(d <= 1):.1%} | {int(d.max())} | "
              f"{np.mean(ex_rates):.2%} | {min(ex_rates):.2%} ({rows[int(np.argmin(ex_rates))]['op']}) | "
              f"{all(r['within1'] == 1.0 for r in rows)} |", flush=True)
        if rule == "double":
            worst = sorted(rows, key=lambda r: r["exact"])[:6]
            detail = ", ".join(f"{r['op']} {r['name']} {r['exact']:.1%}" for r in worst)
    print(f"\nleast-agreeing layers (TFLite's double rounding, identical share): {detail}")


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0] if a else "mobilenet_v2", a[1] if len(a) > 1 else "ts", int(a[2]) if len(a) > 2 else 64)
