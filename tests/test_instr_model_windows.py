"""The instruction models (--instr-budget, quant/instr_model.py) of the depthwise windows beyond
3x3 / multiplier 1: a model with a 5x5 depthwise and a stride-2 depthwise of multiplier 2, compiled
with --weight-bits mixed --instr-budget on Cortex-M4. Its depthwise layers reach kernels with
models of their own at every width (no borrowed sibling), the predicted instructions are within the
models' stated error of QEMU's count, and the chosen widths meet the budget on QEMU."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from mcuforge.api import compile_model, load_model, load_samples, simulate  # noqa: E402
from mcuforge.passes.pipeline import canonicalize  # noqa: E402
from mcuforge.quant.calibrate import calibrate  # noqa: E402
from mcuforge.quant.instr_model import FEATURES, FORMS, PROBES, kernel_key, load_instr_model, probe_graph  # noqa: E402
from mcuforge.quant.mixed import MixedOptions, lower_uniform  # noqa: E402
from mcuforge.targets import load_core  # noqa: E402

CORE, BOARD = "cortex-m4", "mps2-an386"


class Windows(torch.nn.Module):
    """conv -> depthwise 5x5 -> depthwise 3x3 multiplier 2 stride 2 -> pointwise -> mean -> fc."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.dw5 = torch.nn.Conv2d(8, 8, 5, padding=2, groups=8)
        self.dw2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=8)
        self.pw = torch.nn.Conv2d(16, 16, 1)
        self.fc = torch.nn.Linear(16, 3)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = torch.relu(self.dw5(x))
        x = torch.relu(self.dw2(x))
        x = torch.relu(self.pw(x))
        return self.fc(x.mean((2, 3)))


@pytest.fixture(scope="module")
def windows(tmp_path_factory):
    torch.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((48, 1, 12, 12)).astype(np.float32)
    path = tmp_path_factory.mktemp("windows") / "windows.onnx"
    torch.onnx.export(Windows().eval(), torch.tensor(x[:1]), str(path), dynamo=False)
    return path, x


def _rows(path, x):
    """{width: {layer: report row}} as quant.mixed lowers the model for the ILP (with an
    instruction budget: every layer on its fastest kernel, as the build then is)."""
    g = canonicalize(load_model(path))
    ranges = calibrate(g, load_samples(x, g), "minmax")
    core = load_core(CORE)
    return {b: {r["name"]: r for r in lower_uniform(g, ranges, b, core, MixedOptions(speed_first=True))[0]
                if r["op"] in ("conv2d", "dense")} for b in (8, 4, 2)}


def test_probes_hold_the_depthwise_windows_and_multipliers():
    """PROBES has 5x5 / 7x7 windows, stride 2 and multiplier 2 depthwise probes, and the probe
    builder makes a multiplier-2 layer of them (groups = Cin, Cout = 2 Cin)."""
    dw = [p for p in PROBES if p[0] == "depthwise"]
    assert {p[5] for p in dw} >= {3, 5, 7}
    assert any(p[5] == 5 and p[6] == 2 for p in dw) and any(p[5] == 7 and p[6] == 2 for p in dw)
    mult2 = next(p for p in dw if p[4] == 2 * p[3])
    g = probe_graph(*mult2)
    n = next(iter(g.nodes.values()))
    assert n.attrs["groups"] == mult2[3] and g.tensors[n.inputs[1]].shape == (mult2[4], 3, 3, 1)
    assert g.tensors["y"].shape[-1] == 2 * mult2[3]


def test_depthwise_windows_have_their_own_models_and_meet_the_budget(windows, tmp_path, capsys):
    from mcuforge.cli import main
    path, x = windows
    model = load_instr_model(CORE)
    errs = model.max_rel_err
    rows = _rows(path, x)
    dw_names = [n for n, r in rows[8].items() if "depthwise" in r["kernel"]]
    assert len(dw_names) == 2
    for b in (8, 4, 2):
        for n in dw_names:
            key = kernel_key(rows[b][n])
            assert key in model.coefs, f"{n} at {b} bits: {key} has no model of its own"
            # as many probes as its form has coefficients at least: its stated error is a residual
            # of the non-negative fit, not 0 by construction (as with 1 or 2 probes)
            assert model.points[key] >= len(FORMS[model.form[key]]), (key, model.points[key])
    assert {rows[8][n]["window"] for n in dw_names} == {"5x5", "3x3"}
    assert any(kernel_key(rows[4][n]).endswith("_dsp_gen/3x3") or "_dsp_gen_lsh/3x3" in kernel_key(rows[4][n])
               for n in dw_names), "the multiplier-2 layer runs the general DSP depthwise kernel"

    np.save(tmp_path / "x.npy", x)
    base = tmp_path / "int8"
    assert main(["compile", str(path), "-o", str(base), "--calib", str(tmp_path / "x.npy"), "--no-report"]) == 0
    int8_bytes = json.loads((base / "model.json").read_text())["weights_bytes"]
    common = ["--calib", str(tmp_path / "x.npy"), "--weight-bits", "mixed", "--no-report",
              "--flash-budget", str(int(0.7 * int8_bytes))]
    flash_only = tmp_path / "flash"
    assert main(["compile", str(path), "-o", str(flash_only)] + common) == 0
    _, mf = simulate(flash_only, board=BOARD, x=None, quiet=True)
    budget = int(mf["instructions"] * 1.05)
    capsys.readouterr()
    out = tmp_path / "mixed"
    assert main(["compile", str(path), "-o", str(out), "--instr-budget", str(budget)] + common) == 0
    err = capsys.readouterr().err
    for n in dw_names:
        for b in (8, 4, 2):
            assert kernel_key(rows[b][n]) not in err, err
    info = json.loads((out / "model.json").read_text())
    record = info["mixed_precision"]
    bits = {l["name"]: l["bits"] for l in record["layers"]}
    built = {l["name"]: l["kernel"] for l in info["layers"]}
    assert info["speed_first"], "an instruction budget builds every layer on its fastest kernel"
    for n, b in bits.items():    # the kernels priced are the kernels built
        assert built[n] == rows[b][n]["kernel"], (n, b, built[n], rows[b][n]["kernel"])
    assert set(bits.values()) - {8}, "the flash budget must force low widths"
    _, m = simulate(out, board=BOARD, x=None, quiet=True)
    assert m["instructions"] <= budget
    # predicted = the 8-bit model's QEMU count + the models' changes: each layer's model errs by
    # at most its stated relative error at the chosen width and at 8 bits
    tol = sum(errs[kernel_key(rows[bits[n]][n])] * model.predict(rows[bits[n]][n])
              + errs[kernel_key(rows[8][n])] * model.predict(rows[8][n]) for n in bits)
    assert abs(record["predicted_instructions"] - m["instructions"]) <= tol, \
        (record["predicted_instructions"], m["instructions"], tol)


def test_borrowing_prefers_the_same_kernel_without_its_last_suffix():
    """A key without a model borrows the same op / width / window: its name without the last
    suffix first (the left-shift form -> the right-shift one), `_fast` for the portable kernel;
    a window nothing was fitted on is refused, naming the kernel."""
    from mcuforge.errors import McuforgeError
    from mcuforge.quant.instr_model import InstrModel
    one = np.ones(len(FEATURES))
    keys = ["mcf_depthwise_conv2d_s8_w2_dsp_gen/5x5", "mcf_depthwise_conv2d_s8_w2_dsp/3x3",
            "mcf_depthwise_conv2d_s8_w2_dsp_lsh/3x3", "mcf_depthwise_conv2d_s8_w2_fast/5x5",
            "mcf_conv2d_s8_w4_dsp/1x1", "mcf_conv2d_s8_w4_fast/1x1", "mcf_conv2d_s8_w2_dsp/1x1"]
    m = InstrModel("cortex-m4", {k: one * (i + 1) for i, k in enumerate(keys)})
    assert m.sibling("mcf_depthwise_conv2d_s8_w2_dsp_gen_lsh/5x5") == "mcf_depthwise_conv2d_s8_w2_dsp_gen/5x5"
    assert m.sibling("mcf_conv2d_s8_w4_dsp_lsh/1x1") == "mcf_conv2d_s8_w4_dsp/1x1"
    assert m.sibling("mcf_conv2d_s8_w4/1x1") == "mcf_conv2d_s8_w4_fast/1x1"
    assert m.sibling("mcf_depthwise_conv2d_s8_w4_dsp_gen/5x5") is None      # another width
    row = {"kernel": "mcf_depthwise_conv2d_s8_w2_dsp_gen_lsh", "window": "5x5", "macs": 100,
           "out_shape": [1, 2, 2, 4], "in_shape": [1, 4, 4, 4]}
    # const, MACs, outputs, inputs, patches, pixels, channels, weights, padded MACs (2 x 2 blocks),
    # narrow (2 output columns: the MACs), rows (4 pixels x 5), border (all 4 pixels' windows meet
    # the padding), strided (stride 2: the padded MACs), valid (the MACs of the 49 of 100 window
    # taps inside the input)
    assert m.predict(row) == pytest.approx(1 + 100 + 16 + 64 + 25 + 4 + 4 + 25 + 100 + 100 + 20 + 20 + 100 + 49)
    assert m.borrowed == {("mcf_depthwise_conv2d_s8_w2_dsp_gen_lsh/5x5", "mcf_depthwise_conv2d_s8_w2_dsp_gen/5x5")}
    with pytest.raises(McuforgeError, match="no instruction model for kernel mcf_depthwise_conv2d_s8_w2_dsp_gen/7x7"):
        m.predict(dict(row, kernel="mcf_depthwise_conv2d_s8_w2_dsp_gen", window="7x7"))
