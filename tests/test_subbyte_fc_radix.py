"""Single-row fully connected layers with int4 / ternary weights on the DSP extension: the radix
layout (codegen/c/variants/dsp_fc_radix.py, runtime_c/include/mcf_subbyte_dsp_fc.h).

A halfword holds one input's weights of 4 (int4) / 8 (ternary) channels, the low fields offset
binary, the top field two's complement; one raw SMLAD per word recovers the top channel. The
arithmetic is checked here in numpy with the kernel's mod-2^32 sums (including a case where the
bound fails without chunks), then end to end against tflite-micro: INT4 tensors (per tensor,
tflite-micro's limit for FC) byte for byte, int8 tensors narrowed to int4 / ternary with
per-channel left shifts within 1 LSB (nudged scales); golden == host C == QEMU byte for byte.
Cases: odd out_features (partial groups of 4 / 8), K not a multiple of 4 or 8 (step counts of
every residue of the loops' passes), K long enough to
need chunks (int4 K = 701 with |w| = 7, ternary K = 1100), left-shift and dead channels."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mcuforge.api import compile_model, simulate
from mcuforge.codegen.c.variants import dsp_fc_radix as R
from mcuforge.sim.tflm import TflmModel

from test_subbyte_lsh import _need_qemu
from tflite_builder import OP, ModelBuilder, fc_opts

M4 = ("cortex-m4", "mps2-an386")
M7 = ("cortex-m7", "mps2-an500")
M33 = ("cortex-m33", "mps2-an505")


# -- the arithmetic, in numpy ----------------------------------------------------------------------
def _i32(v):
    return ((np.asarray(v, np.int64) + (1 << 31)) % (1 << 32)) - (1 << 31)


def radix_dots(w: np.ndarray, x: np.ndarray, bits: int, chunk: int) -> np.ndarray:
    """What mcf_sub_fc_row computes from the flash bytes: int32 SMLAD sums that wrap, decoded per
    chunk of `chunk` steps; the groups as R._groups lays them out (a narrower last group with every
    field offset binary)."""
    c, k = w.shape
    words = R.fc_radix_layout(w, bits).view("<u4").astype(np.int64)
    steps = -(-k // R.STEP_K)
    xw = x_words(x, k)                                             # per word: (x_k, x_k+2)
    per_group = 4 * steps
    out = []
    for g, (_, p, b, top_offset) in enumerate(R._groups(w, bits)):
        u = words[g * per_group:(g + 1) * per_group]
        d = np.zeros(p, np.int64)
        for s0 in range(0, steps, chunk):
            sl = slice(4 * s0, 4 * min(steps, s0 + chunk))
            d += group_dots(u[sl], xw[sl], p, b)
        d[:p if top_offset else p - 1] -= R.OFFSET[bits] * int(x.sum())
        out.extend(d)
    assert len(words) == per_group * -(-c // R.CHANNELS[bits])       # the flash of padded groups
    return np.array(out[:c])


def x_words(x: np.ndarray, k: int) -> np.ndarray:
    """The row zero-padded to whole steps, per word of weights its x pair (x_k, x_k+2)."""
    xp = np.zeros(-(-k // R.STEP_K) * R.STEP_K, np.int64)
    xp[:len(x)] = x
    return xp.reshape(-1, 4)[:, [0, 2, 1, 3]].reshape(-1, 2)


def group_dots(uu: np.ndarray, xx: np.ndarray, p: int, b: int) -> np.ndarray:
    """One group's decoded sums over words uu against their x pairs xx, as the loops form them: int32
    SMLAD sums that wrap (the masked fields' and the raw word's), the top field by difference."""
    lo16 = lambda v: v & 0xFFFF
    s16 = lambda v: v - ((v & 0x8000) << 1)
    r = []
    for j in range(p - 1):
        m = ((1 << b) - 1) << (b * j)
        r.append(_i32(((uu & m) * xx[:, 0] + ((uu >> 16) & m) * xx[:, 1]).sum()))
    r.append(_i32((s16(lo16(uu)) * xx[:, 0] + s16(uu >> 16) * xx[:, 1]).sum()))
    d = [r[j] >> (b * j) for j in range(p - 1)]
    return np.array(d + [_i32(r[p - 1] - sum(r[:p - 1])) >> (b * (p - 1))], np.int64)


@pytest.mark.parametrize("bits", [4, 2])
def test_radix_arithmetic(bits):
    rng = np.random.default_rng(bits)
    wmax = 7 if bits == 4 else 1
    for c, k in ((1, 1), (5, 13), (11, 37), (8, 64), (9, 130), (2, 9), (3, 24), (6, 17), (10, 40), (12, 8)):
        w = rng.integers(-wmax, wmax + 1, (c, k))
        x = rng.integers(-128, 128, k)
        assert np.array_equal(radix_dots(w, x, bits, 1 << 20), w @ x), (c, k)
    # the worst case: every |w| at its maximum, x = -128, K at the bound of one chunk, and beyond
    kmax = R.CHUNK_STEPS_MAX[bits] * R.STEP_K
    p = R.CHANNELS[bits]
    w = np.full((p, kmax), wmax)
    x = np.full(kmax, -128)
    assert R.worst_case_ok(bits, kmax) and not R.worst_case_ok(bits, kmax + R.STEP_K)
    assert np.array_equal(radix_dots(w, x, bits, kmax // R.STEP_K), w @ x)
    w2, x2 = np.full((p, 2 * kmax), wmax), np.full(2 * kmax, -128)
    assert not np.array_equal(radix_dots(w2, x2, bits, 1 << 20), w2 @ x2), "the bound is real"
    assert R.chunk_steps(w2, bits) == R.CHUNK_STEPS_MAX[bits]
    assert np.array_equal(radix_dots(w2, x2, bits, R.chunk_steps(w2, bits)), w2 @ x2)
    # the narrower last groups (1, 2, 4 channels, every field offset binary) at the chunk bound
    for extra in (1, 2, 3, 4):
        w3 = np.full((p + extra, kmax), wmax)
        w3[1::2] = -wmax
        for xv in (-128, 127):
            x3 = np.full(kmax, xv)
            assert np.array_equal(radix_dots(w3, x3, bits, kmax // R.STEP_K), w3 @ x3), (extra, xv)


def test_layout_and_chunks():
    # int4: channel 0..2 offset binary, channel 3 two's complement; halfwords h(0), h(2), h(1), h(3)
    w = np.zeros((4, 8), np.int64)
    w[:, 0] = [-7, 0, 7, -1]
    w[:, 2] = [1, 2, 3, 4]
    h = R.fc_radix_layout(w, 4).view("<u2")
    assert h[0] == (1 | 8 << 4 | 15 << 8 | 0xF << 12) and h[1] == (9 | 10 << 4 | 11 << 8 | 4 << 12)
    assert h[2] == 0x888 and len(h) == 8
    # ternary: 8 channels a halfword; out_features 3: a last group of 4 channels in 4-bit fields,
    # every one offset binary (the padded one too), the same flash as a group of 8
    t = R.fc_radix_layout(np.array([[1], [-1], [0]]), 2).view("<u2")
    assert t[0] == (2 | 0 << 4 | 1 << 8 | 1 << 12) and len(t) == 8
    assert R.fc_radix_layout(np.ones((9, 1), np.int64), 2).view("<u2")[8] == 2      # 8 + 1: 16-bit field
    # int4 10 channels: two groups of 4, then 2 channels in 8-bit fields (offset binary)
    w10 = np.zeros((10, 8), np.int64)
    w10[8:, 0] = [-7, 7]
    h10 = R.fc_radix_layout(w10, 4).view("<u2")
    assert len(h10) == 24 and h10[16] == (1 | 15 << 8) and h10[17] == 0x808
    # chunks: the layer's own weights prove the bound over a long row of small weights
    small = np.ones((4, 701), np.int64)
    assert R.chunk_steps(small, 4) == 88
    big = np.full((4, 701), 7)
    assert R.chunk_steps(big, 4) == R.CHUNK_STEPS_MAX[4] == 73
    assert R.scratch_bytes(701, 73) == 4 * (4 * 88 + 2 * R.STATE_WORDS)


# -- end to end against tflite-micro ---------------------------------------------------------------
def fc_row_model(k: int, n: int, *, int4_tensor: bool, ternary: bool = False, mag: int | None = None,
                 exps=(-2, 0, 1, 2, -1, 3, 0, 4), dead=(), seed: int = 5, rows: int = 1,
                 int4_mult: float | None = None, bias_max: int = 400, act=None) -> tuple[bytes, np.ndarray]:
    """FULLY_CONNECTED K -> N on `rows` rows (input [rows, K]). int4_tensor: TFLite INT4 weights, one
    scale (a right shift; int4_mult: the scale that makes the layer's multiplier that number);
    else int8 weights holding grid values (|w| <= 7 with a 7 in every live channel, or +-1) with
    per-channel multipliers 2^e u (left shifts for e >= 0), for narrowing. mag: every |w| = mag.
    Biases in (-bias_max, bias_max). act: the fused activation (tflite_builder.ACT). Returns the
    file and the weights."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    s_in, s_out = 0.05, 0.04
    x = b.tensor((rows, k), scale=s_in, zp=-7)
    if ternary:
        q = rng.choice([-1, 1], (n, k))
    elif mag is not None:
        q = rng.choice([-mag, mag], (n, k))
    else:
        q = rng.integers(-7, 8, (n, k))
        q[:, 0] = 7
    q[list(dead)] = 0
    spread = np.sqrt(k) * np.abs(q).mean() * 70            # typical |dot|
    if int4_tensor:
        s_w = np.full(1, (40 / spread if int4_mult is None else int4_mult) * s_out / s_in)
    else:
        s_w = 2.0 ** np.resize(np.asarray(exps), n) * rng.uniform(0.55, 0.95, n) / 8 * s_out / s_in
    wt = b.tensor((n, k), dtype="int4" if int4_tensor else "int8", scale=s_w, zp=np.zeros(len(s_w), int),
                  axis=None if int4_tensor else 0, data=q)
    bias = b.tensor((n,), dtype="int32", scale=np.broadcast_to(s_in * s_w, (n,)), zp=np.zeros(n, int), axis=0,
                    data=rng.integers(-bias_max, bias_max, n))
    y = b.tensor((rows, n), scale=s_out, zp=3)
    b.op(OP.FULLY_CONNECTED, [x, wt, bias], [y], **fc_opts(act))
    return b.build([x], [y]), q


def check_fc_row(tmp_path: Path, buf: bytes, w: np.ndarray, bits: int, exact: bool, cores=(M4,), host: bool = True,
                 samples: int = 6) -> tuple:
    """tflite-micro vs golden (byte-exact if `exact`, else within 1 LSB), golden == host == QEMU; returns
    the layer's info and folder on the first core. Inputs: random rows, all -128, and rows of
    +-128 / 127 against the signs of the weights of channel 3 and 7 (the top fields of the first group,
    int4 / ternary), which drive the top sum to the bound: a kernel without chunks fails there."""
    _need_qemu()
    path = tmp_path / "fc.tflite"
    path.write_bytes(buf)
    tflm = TflmModel(buf)
    rng = np.random.default_rng(7)
    x = None
    infos = []
    for target, board in cores:
        out = tmp_path / target
        res = compile_model(path, out, target=target, quiet=True, weight_bits=8 if exact else bits)
        layer = [l for l in res.info["layers"] if l["op"] == "dense"][0]
        head = R.head_ok(w.shape[1], w.shape[0])          # mcf_sub_fc_head alone (_dsp_head)
        assert layer["kernel"] == f"mcf_fully_connected_s8_w{bits}_dsp" + ("_head" if head else ""), layer["kernel"]
        infos.append((layer, out))
        if x is None:
            x = rng.integers(-128, 128, (samples, w.shape[1])).astype(np.int8)
            x[0] = -128
            x[3:5] = rng.integers(-6, 7, (2, w.shape[1]))        # small rows: the left-shift channels in range
            top = 3 if bits == 4 else 7
            if top < w.shape[0]:
                x[1] = np.where(w[top] > 0, -128, 127)
                x[2] = np.where(w[top] > 0, 127, -128)
            ref, _ = simulate(out, board="reference", x=x, quiet=True)
            ref = ref.reshape(samples, -1)
            theirs = np.stack([tflm.run(xi[None])[0].reshape(-1) for xi in x])
            diff = np.abs(ref.astype(int) - theirs)
            assert diff.max() <= (0 if exact else 1), diff.max()
            assert (diff == 0).mean() > 0.9
            assert len(np.unique(ref)) > min(8, ref.size // 4), "outputs saturate: the test would prove little"
            if host:
                y_host, _ = simulate(out, board="host", x=x, quiet=True)
                assert np.array_equal(y_host.reshape(samples, -1), ref), "host C differs from the golden model"
        ours, _ = simulate(out, board=board, x=x, quiet=True)
        assert np.array_equal(ours.reshape(samples, -1), ref), f"{board} differs from the golden model"
    return infos[0] + (ref,)


def _array(out: Path, name: str) -> np.ndarray:
    """An array of the generated weights file by the end of its C name."""
    src = next(out.glob("mcf_*_weights.c")).read_text()
    decl = next(line for line in src.split(";") if f"{name}[" in line.split("=")[0])
    return np.array([int(v, 0) for v in decl.split("{")[1].split("}")[0].replace("\n", " ").split(",") if v.strip()])


def _block(out: Path) -> int:
    """The chunk length (steps of 8 inputs) the generated code passes to mcf_sub_fc_row."""
    src = next(p for p in out.glob("mcf_*.c") if not p.name.endswith("_weights.c")).read_text()
    return int(src.split(".block = ")[1].split(",")[0])


CASES = {
    # int4 INT4 tensors: K = 701 with |w| = 7 needs chunks (73 steps); 7 outputs (4 + 3); a dead channel
    "int4_chunked": dict(k=701, n=7, int4_tensor=True, mag=7, dead=(5,)),
    # int4 narrowed: per-channel left shifts, K = 45 (6 steps: the int4 loop's four-step pass entered
    # at the third; the chunked case enters at the fourth and second), 11 outputs, a dead channel
    "int4_lsh": dict(k=45, n=11, int4_tensor=False, dead=(2,)),
    # ternary narrowed: left shifts, K = 37, 11 outputs (8 + 3), a dead channel
    "ternary_lsh": dict(k=37, n=11, int4_tensor=False, ternary=True, dead=(9,)),
    # ternary, K = 1100 with |w| = 1: chunks (127 steps); 9 outputs (8 + 1)
    "ternary_chunked": dict(k=1100, n=9, int4_tensor=False, ternary=True),
}


def _run_case(tmp_path, name, cores, host=True):
    spec = CASES[name]
    bits = 2 if spec.get("ternary") else 4
    buf, w = fc_row_model(**spec)
    layer, out, ref = check_fc_row(tmp_path, buf, w, bits, exact=spec["int4_tensor"], cores=cores,
                              host=host)
    for d in spec.get("dead", ()):
        assert not w[d].any() and len(np.unique(ref[:, d])) == 1
    n = spec["n"]
    e = _array(out, "_bias")[2 * n:].astype("<i4").view(np.int8)[:n]    # packed_constants: pairs, then e
    if "lsh" in name:
        assert (e <= 0).sum() >= 2 and (e > 0).any(), e       # left shifts (stored e = -s <= 0) and right
    steps = -(-spec["k"] // 8)
    block = _block(out)
    assert bool(block & R.LSH_FLAG) == bool((e <= 0).any())      # the output routine with the test
    if "chunked" in name:
        assert block & 0xFFFF == R.CHUNK_STEPS_MAX[bits] < steps
    else:
        assert block & 0xFFFF == steps


@pytest.mark.parametrize("name", list(CASES))
def test_fc_radix_m4(tmp_path, name):
    _run_case(tmp_path, name, (M4,))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_fc_radix_m7_m33(tmp_path, name):
    _run_case(tmp_path, name, (M7, M33), host=False)


def by_path(name: str, rel: str):
    """A module of this repository by its file (tests/kernels/layer_models.py, benchmarks/cycle_model.py),
    under the plain name the benchmarks import it by: with benchmarks/ on sys.path (as
    tests/test_cycle_model.py puts it), `kernels` is benchmarks/kernels.py, not tests/kernels/."""
    import importlib.util
    import sys
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / rel)
        mod = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    return mod


def fc_layer_instructions(tmp_path: Path, k: int, n: int, bits=(8, 4, 2)) -> dict:
    """Instructions of a one-layer K -> N model (random calibrated ONNX) on QEMU Cortex-M4 per weight
    width, default kernels: the int8 DSP row kernel and the radix row kernels, each run bit-exact
    with the golden model."""
    lm = by_path("layer_models", "tests/kernels/layer_models.py")
    _need_qemu()
    model, calib, x = lm.build_model([lm.fc_spec(k, n)], tmp_path / "m.onnx")
    x = [a[:1] for a in x]
    counts = {}
    for b in bits:
        res = compile_model(model, tmp_path / str(b), target="cortex-m4", calib=calib, quiet=True, weight_bits=b)
        y, info = simulate(tmp_path / str(b), board="mps2-an386", x=x, quiet=True)
        ref, _ = simulate(tmp_path / str(b), board="reference", x=x, quiet=True)
        np.testing.assert_array_equal(y, ref)
        counts[b] = info["instructions"]
        assert res.info["layers"][0]["kernel"] == ("mcf_fully_connected_s8_dsp_row" if b == 8 else
                                                   f"mcf_fully_connected_s8_w{b}_dsp"
                                                   + ("_head" if R.head_ok(k, n) else ""))
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("bits,bar", [(4, 1.20), (2, 1.26)])
def test_fc_row_speed_m4(tmp_path, bits, bar):
    """ad_fcae's 640 -> 128 row on QEMU Cortex-M4 (one-layer model, default kernels): at most 1.20x
    (int4) / 1.26x (ternary) the int8 DSP row kernel's instructions (measured 1.11x / 1.17x; the
    multiply loops' lower bound on this ISA is about 1.13x / 1.21x, docs/subbyte.md); the previous
    row loop was 1.52x / 1.40x on 256 -> 64."""
    n = fc_layer_instructions(tmp_path, 640, 128, (8, bits))
    assert n[bits] <= bar * n[8], n
