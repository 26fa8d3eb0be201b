"""Mixed-precision weights: HAWQ-V2 sensitivities (checked against the exact Hessian), the MILP
(checked against brute force), bias correction, AdaQuant, QAT export, and the CLI's chosen widths
meeting their flash / instruction budget in the ELF and on QEMU."""
import itertools
import json
import subprocess

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)   # tiny tensors: threads only add synchronisation

from mcuforge.errors import McuforgeError  # noqa: E402
from mcuforge.frontend.onnx import load_onnx  # noqa: E402
from mcuforge.passes.pipeline import canonicalize  # noqa: E402
from mcuforge.quant import qat_lowbit as qat  # noqa: E402
from mcuforge.quant.bit_allocation import allocate, pareto_frontier, plot_pareto  # noqa: E402
from mcuforge.quant.sensitivity import (LayerSensitivity, Sensitivity, adaquant, bias_correction,  # noqa: E402
                                        hessian_sensitivity, neighbour_pairs)
from mcuforge.quant.subbyte import quantize_weights_bits  # noqa: E402
from mcuforge.quant.torch_graph import TorchGraph  # noqa: E402
from mcuforge.reference.executor import Executor  # noqa: E402


class Tiny(torch.nn.Module):
    """conv -> depthwise -> pointwise (+ residual) -> pool -> mean -> fc: every rule of TorchGraph."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.dw = torch.nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.pw = torch.nn.Conv2d(4, 4, 1)
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = x + torch.relu(self.pw(torch.relu(self.dw(x))))
        x = torch.nn.functional.max_pool2d(x, 2)
        return self.fc(x.mean((2, 3)))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A Tiny net trained a little on a separable toy problem, its ONNX, its IR and data."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((192, 1, 6, 6)).astype(np.float32)
    y = (x[:, 0, :3].mean((1, 2)) > 0).astype(np.int64) + (x[:, 0, :, :3].mean((1, 2)) > 0)
    m = Tiny()
    qat.train(m, x, y, epochs=8, lr=1e-2)
    path = tmp_path_factory.mktemp("tiny") / "tiny.onnx"
    torch.onnx.export(m.eval(), torch.tensor(x[:1]), str(path), dynamo=False)
    g = canonicalize(load_onnx(path))
    xd = np.transpose(x, (0, 2, 3, 1)).astype(np.float64)
    return m, path, g, x, xd, y


def test_torch_graph_matches_the_float_golden_model(tiny):
    m, _, g, x, xd, _ = tiny
    ex = Executor(g)
    ref = np.stack([ex.run({g.inputs[0]: xd[i:i + 1].astype(np.float32)})[g.outputs[0]][0] for i in range(8)])
    out = TorchGraph(g).run(torch.tensor(xd[:8])).detach().numpy()
    with torch.no_grad():
        want = m(torch.tensor(x[:8])).numpy()
    assert np.allclose(out, ref, rtol=1e-4, atol=1e-5)
    assert np.allclose(out, want, rtol=1e-4, atol=1e-5)   # and PyTorch's own model


def _exact_hessian_blocks(g, xd, y):
    """Per layer: Tr(H_ii) from unit-vector HVPs, and the HVP function, for the tiny net."""
    from mcuforge.quant.sensitivity import _loss_fn
    tg = TorchGraph(g)
    params = tg.params()
    loss = _loss_fn(g, tg.run(torch.tensor(xd)), torch.tensor(y))
    grads = torch.autograd.grad(loss, params, create_graph=True)

    def hvp(vs):
        return torch.autograd.grad(grads, params, grad_outputs=vs, retain_graph=True)
    traces = []
    for k, p in enumerate(params):
        t = 0.0
        for idx in range(p.numel()):
            vs = [torch.zeros_like(q) for q in params]
            vs[k].view(-1)[idx] = 1.0
            t += float(hvp(vs)[k].reshape(-1)[idx])
        traces.append(t)
    return tg, params, hvp, traces


def test_hutchinson_traces_and_cross_terms_match_the_exact_hessian(tiny):
    _, _, g, _, xd, y = tiny
    sens = hessian_sensitivity(g, xd, y, n_probe=120, seed=1)
    tg, params, hvp, traces = _exact_hessian_blocks(g, xd, y)
    for l, exact in zip(sens.layers, traces):
        # an unbiased estimate: within 4 standard errors of the exact trace
        assert abs(l.trace - exact) <= 4 * l.trace_std + 1e-9, (l.name, l.trace, l.trace_std, exact)
    # the second-order loss of a whole configuration: 1/2 dW^T H dW with every block, from one HVP,
    # equals the exact diagonal forms plus the cross terms of every pair (all pairs are neighbours
    # or have zero cross terms here? no: compute the non-neighbour terms too and compare the sum)
    config = {"/c1/Conv": 4, "/dw/Conv": 2, "/pw/Conv": 4, "/fc/Gemm": 2}
    names = tg.layers
    deltas = []
    for n, p in zip(names, params):
        w = p.detach().numpy()
        q, qp = quantize_weights_bits(w, config[n])
        deltas.append(torch.tensor(q * qp.scale.reshape((-1,) + (1,) * (w.ndim - 1)) - w))
    hd = hvp(deltas)
    full = 0.5 * sum(float((d * h).sum()) for d, h in zip(deltas, hd))
    diag = 0.5 * sum(sens.layer(n).exact[config[n]] for n in names)
    cross = 0.0
    for i, j in itertools.combinations(range(len(names)), 2):
        vs = [torch.zeros_like(p) for p in params]
        vs[j] = deltas[j]
        cross += float((deltas[i] * hvp(vs)[i]).sum())
        if (names[i], names[j]) in sens.pairs_raw:
            assert np.isclose(sens.pairs_raw[(names[i], names[j])][(config[names[i]], config[names[j]])],
                              float((deltas[i] * hvp(vs)[i]).sum()), rtol=1e-6, atol=1e-12)
    assert np.isclose(diag + cross, full, rtol=1e-6, atol=1e-12)
    assert set(neighbour_pairs(g)) == {("/c1/Conv", "/dw/Conv"), ("/dw/Conv", "/pw/Conv"),
                                       ("/c1/Conv", "/fc/Gemm"), ("/pw/Conv", "/fc/Gemm")}


def _synthetic(n_layers=5, seed=0):
    rng = np.random.default_rng(seed)
    layers = []
    for k in range(n_layers):
        n = int(rng.integers(50, 400))
        om = {8: rng.uniform(0, 1e-4), 4: rng.uniform(1e-3, 1e-2), 2: rng.uniform(1e-2, 1e-1)}
        layers.append(LayerSensitivity(f"l{k}", "conv2d", n, 1.0, 0.0, omega=om,
                                       bytes={8: n, 4: (n + 1) // 2, 2: (n + 3) // 4}))
    s = Sensitivity(layers)
    for k in range(n_layers - 1):
        s.pairs[(f"l{k}", f"l{k + 1}")] = {(a, b): float(rng.uniform(-1, 1) * np.sqrt(layers[k].omega[a] * layers[k + 1].omega[b]))
                                          for a in (8, 4, 2) for b in (8, 4, 2)}
    return s


def test_ilp_equals_brute_force_and_respects_the_budget(tmp_path):
    s = _synthetic()
    names = [l.name for l in s.layers]
    full = sum(l.bytes[8] for l in s.layers)
    for frac in (0.3, 0.45, 0.6, 0.8):
        budget = int(frac * full)
        a = allocate(s, flash_budget=budget)
        feasible = [dict(zip(names, c)) for c in itertools.product((8, 4, 2), repeat=len(names))
                    if sum(s.layer(n).bytes[b] for n, b in zip(names, c)) <= budget]
        best = min(s.predicted_loss(c) for c in feasible)
        assert a.weight_bytes <= budget
        assert np.isclose(a.predicted_loss, best, rtol=1e-6, atol=1e-12)
    # an instruction budget alone, with per-layer costs that favour 8 bits
    cost = {(n, b): {8: 100, 4: 300, 2: 250}[b] for n in names for b in (8, 4, 2)}
    a = allocate(s, instr_budget=900, instr_cost=cost)
    assert a.instructions <= 900 and list(a.config.values()).count(8) >= 3
    with pytest.raises(McuforgeError, match="smallest configuration needs"):
        allocate(s, flash_budget=10)
    front = pareto_frontier(s, max_points=12)
    assert all(a.weight_bytes < b.weight_bytes and a.predicted_loss > b.predicted_loss for a, b in zip(front, front[1:]))
    assert plot_pareto(front, tmp_path / "p.png").stat().st_size > 1000


def test_bias_correction_removes_the_mean_output_shift(tiny):
    _, _, g, _, xd, _ = tiny
    config = {"/c1/Conv": 2, "/dw/Conv": 2, "/pw/Conv": 2, "/fc/Gemm": 2}
    g2 = bias_correction(g, xd, config)
    tq = TorchGraph(g2)
    tf = TorchGraph(g)
    with torch.no_grad():
        env = tf.run(torch.tensor(xd), keep=True)
        node = g.node("/c1/Conv")
        w = tf.weights["/c1/Conv"].numpy()
        q, qp = quantize_weights_bits(w, 2)
        wq = torch.tensor(q * qp.scale.reshape(-1, 1, 1, 1))
        saved = dict(node.attrs)
        for gg in (g, g2):
            gg.node("/c1/Conv").attrs.update(act_min=None, act_max=None)
        y_f = tf._op_conv2d(g.node("/c1/Conv"), [env[node.inputs[0]]], None)
        y_q = tq._op_conv2d(g2.node("/c1/Conv"), [env[node.inputs[0]]], {"/c1/Conv": wq})
        y_q0 = tf._op_conv2d(g.node("/c1/Conv"), [env[node.inputs[0]]], {"/c1/Conv": wq})
        g.node("/c1/Conv").attrs.update(saved)
    shift_before = (y_q0 - y_f).reshape(-1, 4).mean(0).abs().max()
    shift_after = (y_q - y_f).reshape(-1, 4).mean(0).abs().max()
    assert shift_before > 1e-4 and shift_after < 1e-6   # the bias is stored in float32


def test_adaquant_lowers_the_error_and_its_grid_survives_quantization(tiny):
    from mcuforge.api import prepare_graph
    _, _, g, _, xd, y = tiny
    config = {"/c1/Conv": 4, "/dw/Conv": 2, "/pw/Conv": 4, "/fc/Gemm": 4}
    ga = adaquant(g, xd, config, steps=150)
    gb = bias_correction(g, xd, config)

    def fq_loss(gg, pinned):
        tg = TorchGraph(gg)
        ws = {}
        for n in tg.layers:
            t = gg.tensors[gg.node(n).inputs[1]]
            if pinned:
                ws[n] = torch.tensor(t.data.astype(np.float64))
            else:
                q, qp = quantize_weights_bits(t.data, config[n])
                ws[n] = torch.tensor(q * qp.scale.reshape((-1,) + (1,) * (q.ndim - 1)))
        with torch.no_grad():
            out = tg.run(torch.tensor(xd), weights=ws)
            ref = TorchGraph(g).run(torch.tensor(xd))
        return float(((out - ref) ** 2).mean())
    assert fq_loss(ga, True) < fq_loss(gb, False)
    gq, _ = prepare_graph(ga, calib=np.transpose(xd[:32], (0, 3, 1, 2)).astype(np.float32), weight_bits=config,
                          quiet=True)
    for n, bits in config.items():
        node = gq.node(n)
        assert node.attrs["weight_bits"] == bits
        w = ga.tensors[ga.node(n).inputs[1]]
        assert np.array_equal(gq.tensors[node.inputs[1]].data, w.meta["q_int"])
        assert np.allclose(gq.tensors[node.inputs[1]].quant.scale, w.quant.scale)


def test_qat_int4_and_ternary_export_keeps_the_trained_grid(tiny, tmp_path):
    from mcuforge.api import prepare_graph
    m, _, _, x, xd, y = tiny
    import copy
    m2 = copy.deepcopy(m)
    qat.prepare_qat(m2, {"c1": 4, "dw": 2, "pw": 2, "fc": 4})
    qat.train(m2, x, y, epochs=2, lr=1e-3)
    path = qat.export_qonnx(m2, x[:1], tmp_path / "qat.onnx")
    g = canonicalize(load_onnx(path))
    # the float reading of the export is the QAT model's forward (PyTorch as the oracle)
    ex = Executor(g)
    got = np.stack([ex.run({g.inputs[0]: xd[i:i + 1].astype(np.float32)})[g.outputs[0]][0] for i in range(8)])
    with torch.no_grad():
        want = m2(torch.tensor(x[:8])).numpy()
    assert np.allclose(got, want, rtol=1e-4, atol=1e-5)
    gq, _ = prepare_graph(path, calib=x[:32], quiet=True)
    widths = {n.name: n.attrs.get("weight_bits") for n in gq.topo_order() if n.op in ("conv2d", "dense")}
    assert sorted(widths.values()) == [2, 2, 4, 4]
    mods = qat.qat_layers(m2)
    q_fc, s_fc = qat.quantized_weight(mods["fc"].parametrizations.weight.original, 4)
    fc = next(n for n in gq.topo_order() if n.op == "dense")
    assert np.array_equal(gq.tensors[fc.inputs[1]].data, q_fc)
    assert np.allclose(gq.tensors[fc.inputs[1]].quant.scale, s_fc)


def _weight_symbols_bytes(elf, prefix):
    nm = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True, check=True).stdout
    total = 0
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3].startswith(prefix + "_L") and parts[2] in "rR":
            total += int(parts[1], 16)
    return total


def test_cli_mixed_meets_its_flash_and_instruction_budgets_on_qemu(tiny, tmp_path):
    """The ILP's configuration, compiled at a flash and an instruction budget, measured: the
    constant arrays in the linked M4 ELF and the instructions QEMU executes are within them."""
    from mcuforge.api import read_info, simulate
    from mcuforge.cli import main
    _, path, _, x, _, y = tiny
    np.save(tmp_path / "x.npy", x[:64])
    np.save(tmp_path / "y.npy", y[:64])
    base = tmp_path / "int8"
    assert main(["compile", str(path), "-o", str(base), "--calib", str(tmp_path / "x.npy"), "--no-report"]) == 0
    int8_bytes = read_info(base)["weights_bytes"]
    flash_budget = int(0.75 * int8_bytes)
    common = ["--calib", str(tmp_path / "x.npy"), "--calib-data", str(tmp_path / "y.npy"), "--weight-bits", "mixed",
              "--flash-budget", str(flash_budget), "--no-report"]
    # flash alone, then flash and an instruction budget a little above what that choice executes
    flash_only = tmp_path / "flash"
    assert main(["compile", str(path), "-o", str(flash_only)] + common) == 0
    _, mf = simulate(flash_only, board="mps2-an386", x=x[:1], quiet=True)
    instr_budget = int(mf["instructions"] * 1.25)
    out = tmp_path / "mixed"
    assert main(["compile", str(path), "-o", str(out), "--instr-budget", str(instr_budget)] + common) == 0
    for folder in (flash_only, out):
        info = json.loads((folder / "model.json").read_text())
        assert {l["bits"] for l in info["mixed_precision"]["layers"]} - {8}, "the budget must force low widths"
        _, m = simulate(folder, board="mps2-an386", x=x[:4], quiet=True)
        elf = next((folder / "build" / "mps2-an386").rglob("*.elf"))
        assert _weight_symbols_bytes(elf, info["prefix"]) == info["weights_bytes"] <= flash_budget
    assert m["instructions"] <= instr_budget
    from mcuforge.api import report
    text = report(out)
    assert "Omega" in text and f"flash budget {flash_budget:,} B" in text


def test_cli_refuses_mixed_without_budget_and_budget_without_mixed(tiny, tmp_path, capsys):
    from mcuforge.cli import main
    _, path, _, x, _, _ = tiny
    np.save(tmp_path / "x.npy", x[:16])
    assert main(["compile", str(path), "-o", str(tmp_path / "o"), "--calib", str(tmp_path / "x.npy"),
                 "--weight-bits", "mixed"]) == 1
    assert "needs a budget" in capsys.readouterr().err
    assert main(["compile", str(path), "-o", str(tmp_path / "o"), "--calib", str(tmp_path / "x.npy"),
                 "--flash-budget", "100"]) == 1
    assert "applies to --weight-bits mixed" in capsys.readouterr().err
    assert main(["compile", str(path), "-o", str(tmp_path / "o"), "--calib", str(tmp_path / "x.npy"),
                 "--weight-bits", "mixed", "--flash-budget", "10"]) == 1
    assert "smallest configuration needs" in capsys.readouterr().err


def test_predicted_loss_is_never_negative(tiny):
    """Every layer of Tiny sits in two neighbour pairs. Clipping each cross term by Cauchy-Schwarz
    alone (|c_ij| <= sqrt(Omega_i Omega_j)) keeps each pair's form >= 0 but not their sum: with
    labels, (4, 2, 2, 8) was predicted at -2.4e-5, below all 8 bits, and the ILP chose it; on
    tiny YOLO it went all ternary at -0.035 with 12.5 KB of its budget unused. Shared among a
    layer's pairs, the clip keeps the predicted loss of every configuration >= 0."""
    _, _, g, _, xd, y = tiny
    sens = hessian_sensitivity(g, xd[:64], y[:64], n_probe=48)
    names = [l.name for l in sens.layers]
    configs = [dict(zip(names, c)) for c in itertools.product((8, 4, 2), repeat=len(names))]
    assert min(sens.predicted_loss(c) for c in configs) >= 0
    # the case is real here: the per-pair clip alone lets some configuration go below zero

    def per_pair_only(c):
        om = {l.name: l.omega for l in sens.layers}
        total = sum(sens.cost(n, c[n]) for n in names)
        for (i, j), terms in sens.pairs_raw.items():
            bound = np.sqrt(om[i][c[i]] * om[j][c[j]])
            total += float(np.clip(terms[(c[i], c[j])], -bound, bound))
        return total
    assert min(per_pair_only(c) for c in configs) < 0
