"""The quantizer options the search space uses: KL calibration, percentile value, clipping ratio,
per-tensor weights, symmetric activations; and the batched golden-model run of the evaluator."""
import numpy as np
import pytest

from mcuforge.api import simulate
from mcuforge.quant.calibrate import TensorStats, BINS, choose_ranges
from mcuforge.quant.int8 import activation_quant, quantize_weights
from mcuforge.search.evaluate import run_int8


def _stats(values) -> TensorStats:
    s = TensorStats()
    s.lo, s.hi = float(values.min()), float(values.max())
    s.hlo, s.hhi = s.lo, s.hi
    s.hist, _ = np.histogram(values, bins=BINS, range=(s.lo, s.hi))
    return s


def test_kl_clips_a_rare_outlier_and_keeps_a_dense_range():
    rng = np.random.default_rng(0)
    relu = np.maximum(rng.standard_normal(200_000), 0)
    with_outlier = _stats(np.concatenate([relu, [40.0]]))
    lo, hi = choose_ranges({"t": with_outlier}, "kl")["t"]
    assert lo == 0.0 and 2.5 < hi < 20.0        # the outlier at 40 is clipped, the bulk (< ~4.5) kept
    uniform = _stats(rng.uniform(-1, 3, 200_000))
    lo, hi = choose_ranges({"t": uniform}, "kl")["t"]
    assert hi > 2.9 and lo < -0.95               # nothing to gain by clipping a uniform range


def test_percentile_value_and_clip_ratio():
    rng = np.random.default_rng(1)
    s = {"t": _stats(rng.standard_normal(100_000))}
    wide = choose_ranges(s, "percentile", percentile=99.999)["t"]
    narrow = choose_ranges(s, "percentile", percentile=99.9)["t"]
    assert narrow[1] < wide[1] and narrow[0] > wide[0]
    mm = choose_ranges(s, "minmax")["t"]
    clipped = choose_ranges(s, "minmax", clip_ratio=0.5)["t"]
    assert clipped == pytest.approx((mm[0] * 0.5, mm[1] * 0.5))
    with pytest.raises(ValueError):
        choose_ranges(s, "minmax", clip_ratio=1.5)


def test_symmetric_activation_and_per_tensor_weight_parameters():
    q = activation_quant(-1.0, 3.0, symmetric=True)
    assert int(q.zp) == 0 and q.s == pytest.approx(3.0 / 127)
    w = np.stack([np.full((2, 3, 3), 0.1), np.full((2, 3, 3), 2.0)]).astype(np.float32)
    qc, pc = quantize_weights(w)
    qt, pt = quantize_weights(w, per_channel=False)
    assert pc.scale[0] < pc.scale[1] and np.all(pt.scale == pt.scale[1])
    assert np.all(qc == 127) and np.all(qt[1] == 127) and np.all(qt[0] == 6)


def test_options_reach_the_graph(evaluator):
    base = dict(calib="minmax", clip=1.0, weights="per_channel", acts="asymmetric", n_calib=128)
    g = evaluator.quantize(dict(base, weights="per_tensor", acts="symmetric"))
    weights = [g.tensors[n.inputs[1]].quant for n in g.nodes.values() if n.op in ("conv2d", "dense")]
    assert weights and all(np.all(q.scale == q.scale[0]) for q in weights)
    acts = [g.tensors[n.outputs[0]].quant for n in g.nodes.values()]
    assert all(np.all(q.zero_point == 0) for q in acts)
    g2 = evaluator.quantize(base)
    assert any(np.any(g2.tensors[n.outputs[0]].quant.zero_point != 0) for n in g2.nodes.values())


def test_batched_golden_run_equals_single_runs(evaluator):
    from mcuforge.reference.arith import round_half_away
    from mcuforge.reference.executor import Executor
    g = evaluator.quantize(dict(calib="mse", clip=1.0, weights="per_channel", acts="asymmetric", n_calib=128))
    x = evaluator.x_eval[:12]
    ex, name, q = Executor(g), g.inputs[0], g.tensors[g.inputs[0]].quant
    single = [ex.run({name: np.clip(round_half_away(v.astype(np.float64) / q.s) + q.zp, -128, 127).astype(np.int8)[None]})[g.outputs[0]]
              for v in x]
    assert np.array_equal(run_int8(g, x, chunk=5), np.stack(single).reshape(len(x), -1))


def test_search_options_compile_to_c_bit_exact_with_the_golden_model(evaluator, digits_cnn, tmp_path):
    """KL ranges, per-tensor weights and symmetric activations: host C == golden model, and the
    golden model's accuracy is the evaluator's."""
    _, _, (_, _, xte, yte) = digits_cnn
    config = dict(calib="kl", clip=0.9, weights="per_tensor", acts="symmetric", n_calib=128)
    evaluator.compile_best(config, tmp_path / "lib")
    x = xte[:40]
    y_host, _ = simulate(tmp_path / "lib", "host", x, quiet=True)
    y_ref, _ = simulate(tmp_path / "lib", "reference", x, quiet=True)
    assert np.array_equal(y_host, y_ref)
    g = evaluator.quantize(config)
    assert np.array_equal(run_int8(g, evaluator.x_eval[:40]), y_ref.reshape(40, -1))


def test_kernel_knob_trades_arena(evaluator):
    """The cost-only knob of --objective pareto: the leanest kernels never need a larger arena."""
    from mcuforge.search.space import default_space
    assert "kernels" in default_space("pareto").names and "kernels" not in default_space().names
    c = dict(calib="minmax", clip=1.0, weights="per_channel", acts="asymmetric", n_calib=128)
    q = evaluator.quantize(c)
    fast, lean = evaluator.cost(dict(c, kernels="fast"), q), evaluator.cost(dict(c, kernels="min_arena"), q)
    print(f"\narena: fast kernels {fast['arena_bytes']} B, leanest {lean['arena_bytes']} B")
    assert 0 < lean["arena_bytes"] <= fast["arena_bytes"] and fast["weights_bytes"] > 0


def test_weight_width_knobs_reach_the_graph_and_the_cost(evaluator, digits_cnn, tmp_path):
    """w_first / w_mid / w_last set the widths of the first, middle and last weight layers; the
    narrower build counts fewer weight bytes, and its library runs bit-exact with the golden model."""
    from mcuforge.search.space import default_space, weight_bits_of
    space = default_space(weight_bits=(8, 4, 2))
    assert space.size == default_space().size * 27
    layers = evaluator.weight_layers
    assert len(layers) >= 3
    c = dict(calib="minmax", clip=1.0, weights="per_channel", acts="asymmetric", n_calib=128)
    wide = dict(c, w_first=8, w_mid=8, w_last=8)
    narrow = dict(c, w_first=8, w_mid=4, w_last=2)
    assert weight_bits_of(narrow, layers) == {layers[0]: 8, **{n: 4 for n in layers[1:-1]}, layers[-1]: 2}
    q = evaluator.quantize(narrow)
    assert {n: q.node(n).attrs.get("weight_bits", 8) for n in layers} == weight_bits_of(narrow, layers)
    r_wide, r_narrow = evaluator(wide), evaluator(narrow)
    print(f"\nweights: 8/8/8 {r_wide['weights_bytes']} B, 8/4/2 {r_narrow['weights_bytes']} B")
    assert r_narrow["weights_bytes"] < 0.6 * r_wide["weights_bytes"]
    evaluator.compile_best(narrow, tmp_path / "lib")
    _, _, (_, _, xte, _) = digits_cnn
    y_host, _ = simulate(tmp_path / "lib", "host", xte[:20], quiet=True)
    assert np.array_equal(run_int8(q, evaluator.x_eval[:20]), y_host.reshape(20, -1))
