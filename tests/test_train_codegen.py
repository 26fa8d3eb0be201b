"""The C training step (codegen/c/train.py) against the golden training step over several steps,
on the host and on QEMU's Cortex-M4 (float32 graph built by hand after docs/training.md); memory placement (trained tensors in RAM,
updates in place, the arena covering saved activations and gradients)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mcuforge.codegen.c.train import emit_training_library, plan_training_memory
from mcuforge.sim.train_run import train_on_board
from train_graphs import golden_steps, tiny_cnn_train_graph

F = np.float32


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    g = tiny_cnn_train_graph(np.random.default_rng(0))
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((6, 6, 6, 2)).astype(F)
    ys = np.array([0, 1, 2, 1, 0, 2], np.int32)
    out = tmp_path_factory.mktemp("tiny_train")
    info = emit_training_library(g, out, "cortex-m4", full_graph=g)
    return g, xs, ys, out, info


def test_library_layout(tiny):
    g, _, _, out, info = tiny
    src = (out / f"{info['prefix']}.c").read_text()
    weights = (out / f"{info['prefix']}_weights.c").read_text()
    # trained parameters are RAM arrays filled at init; their flash copies are init images only
    assert "static float mcf_tiny_train_L0_weights[72]" in src
    assert "memcpy(mcf_tiny_train_L0_weights, mcf_tiny_train_init_conv_w" in src
    assert "mcf_tiny_train_L0_weights[" not in weights
    # the updates write into the state they update, no arena copy; weight gradients are applied
    # row by row inside their updates (never stored whole), bias gradients by sgd_update
    assert "mcf_sgd_update(&L" in src and "mcf_tiny_train_ram_conv_w_master" in src
    assert src.count("mcf_wgrad_sgd_update(&L") == 2
    split = info["training_sram"]
    assert split["arena_bytes"] == info["arena_bytes"] > 0
    assert split["saved_activations"] > 0 and split["gradients"] > 0
    assert split["saved_activations"] + split["gradients"] + split["activations_other"] \
        + split["arena_fragmentation"] == split["arena_bytes"]
    assert split["trained_params_ram"] == sum(g.tensors[t].nbytes for t in ("conv_w", "conv_b", "fc_w", "fc_b"))
    assert json.loads((out / "model.json").read_text())["full_backprop_sram"] == plan_training_memory(g)


@pytest.mark.parametrize("board", ["host"])     # QEMU: test_train_c_int8.py (bit-exact int8 mode)
def test_c_steps_equal_golden(tiny, board):
    g, xs, ys, out, _ = tiny
    want = np.array(golden_steps(g, list(xs) * 2, list(ys) * 2), F)
    rep = train_on_board(out, board, xs, ys, epochs=2, x_eval=xs[:3], y_eval=ys[:3], quiet=True)
    got = np.array(rep["step_losses"], F)
    assert got.shape == want.shape == (12,)
    # float32 mode: the forward is the float inference kernels (float32 sums in C, float64 in
    # the golden model), so steps agree to float32 rounding, not bit for bit (int8 mode is exact)
    np.testing.assert_allclose(got, want, rtol=2e-6)
    assert want[6:].mean() < want[:6].mean()        # it learns: the second pass has a lower loss
    assert len(rep["epochs"]) == 2 and rep["epochs"][1]["eval_accuracy"] is not None
    assert (out / "loss_curve.png").is_file()
    if board != "host":
        assert rep["instructions_per_step"] > 0 and rep["stack_bytes"] > 0 and rep["ram_bytes"] > rep["arena_bytes"]
