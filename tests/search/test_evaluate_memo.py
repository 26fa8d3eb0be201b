"""The evaluator's layer memo (search/evaluate.py MemoExecutor): configurations that share layers
reuse their golden outputs, and the result is exactly the plain golden model's, whatever the
order of the configurations, the memo's size bound or the requantization rounding."""
from collections import OrderedDict

import numpy as np

from mcuforge.search.evaluate import Evaluator, run_int8

BASE = dict(calib="minmax", clip=1.0, weights="per_channel", acts="asymmetric", n_calib=128)
# grid order (the last width varies fastest), then a calibration change and a jump back
CONFIGS = [dict(BASE, w_first=8, w_mid=8, w_last=8), dict(BASE, w_first=8, w_mid=8, w_last=4),
           dict(BASE, w_first=8, w_mid=4, w_last=4), dict(BASE, w_first=4, w_mid=4, w_last=4),
           dict(BASE, calib="kl", w_first=4, w_mid=4, w_last=4), dict(BASE, w_first=8, w_mid=8, w_last=2)]


def test_memo_runs_equal_plain_runs_and_reuse_layers(evaluator):
    x = evaluator.x_eval[:60]
    memo = OrderedDict()
    for c in CONFIGS:
        q = evaluator.quantize(c)
        plain = run_int8(q, x, chunk=25)
        before = len(memo)
        assert np.array_equal(run_int8(q, x, chunk=25, memo=memo), plain), c
        new = len(memo) - before
        if c is CONFIGS[1]:   # only the last weight layer (and what follows it) differs from CONFIGS[0]
            assert 0 < new < before / 2, (new, before)
        if c is CONFIGS[5]:   # everything but the last layer was computed for CONFIGS[0]
            assert 0 < new < before / 4, (new, before)


def test_memo_is_bounded_and_exact_when_evicting(evaluator):
    from mcuforge.search.evaluate import MemoExecutor, batched
    x = evaluator.x_eval[:30]
    from mcuforge.reference.executor import Executor
    memo = OrderedDict()
    for c in CONFIGS[:3]:
        q = evaluator.quantize(c)
        b = batched(q, len(x))
        name = q.inputs[0]
        xq = np.clip(np.round(x / q.tensors[name].quant.s) + q.tensors[name].quant.zp, -128, 127).astype(np.int8)
        ex = MemoExecutor(b, memo, limit=2000)
        assert np.array_equal(ex.run({name: xq})[q.outputs[0]], Executor(b).run({name: xq})[q.outputs[0]])
        assert len(memo) == 1 or sum(y.nbytes for ys in memo.values() for y in ys) <= 2000


def test_requant_is_explicit_and_part_of_the_memo(digits_cnn):
    path, _, (xtr, _, xte, yte) = digits_cnn
    evs = {m: Evaluator(path, xte[:80], yte[:80], xtr[:64], requant=m) for m in ("double", "single")}
    c = dict(BASE, n_calib=64, w_first=8, w_mid=4, w_last=8)
    q = {m: ev.quantize(c) for m, ev in evs.items()}
    assert q["single"].meta.get("requant") == "single" and q["double"].meta.get("requant", "double") == "double"
    plain = {m: run_int8(q[m], evs[m].x_eval) for m in q}
    assert not np.array_equal(plain["double"], plain["single"])   # the roundings differ on these logits
    memo = OrderedDict()   # one memo for both: the rounding must keep their layers apart
    for m in ("double", "single"):
        assert np.array_equal(run_int8(q[m], evs[m].x_eval, memo=memo), plain[m]), m
