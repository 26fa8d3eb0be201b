"""The training path's API (issue 11): compile a float model into an on-device training library
and run its training loop on a board. The CLI's `compile --train` and `simulate --train` call
these; TVM is only imported (by mcuforge.train) when a training graph is built.

    info = compile_training("cnn.onnx", "out/", calib="x.npy", update="bias:last2,weight:fc0")
    report = simulate_training("out/", "mps2-an386", x, y, epochs=3, x_eval=xv, y_eval=yv)
"""
from __future__ import annotations

from pathlib import Path

from .errors import McuforgeError

SPLIT_ROWS = (("saved activations", "saved_activations"), ("gradients", "gradients"),
              ("other activations", "activations_other"), ("arena fragmentation", "arena_fragmentation"),
              ("arena", "arena_bytes"), ("trained params in RAM", "trained_params_ram"),
              ("optimizer state", "optimizer_state"), ("total (without stack)", "total_bytes"))


def compile_training(model, out_dir, target: str = "cortex-m4", quant: str = "int8", calib=None,
                     update="auto", loss: str = "xent", sram_budget: int | None = None, lr: float = 0.01,
                     momentum: float = 0.9, qas: bool = True, master: bool = True, full_backprop: bool = True,
                     name: str | None = None, quiet: bool = False, example_inputs=None,
                     input_shapes=None, auto_options: dict | None = None) -> dict:
    """Build the training graph of `model` for the update scheme, write its C library to
    out_dir and return model.json's content. With full_backprop the graph that trains every
    tensor is built and planned too, so the report sets the scheme's SRAM beside it."""
    from .api import _log
    from .codegen.c.train import emit_training_library
    from .outdir import staged_dir
    from .targets import load_core
    from .train import build_training_graph
    from .train.build import float_forward
    core = load_core(target)
    _log(f"building the training graph ({quant}, update {update})", quiet)
    f = float_forward(model, input_shapes, example_inputs)
    f.meta["canonical_float"] = True
    kw = dict(quant=quant, calib=calib, loss=loss, lr=lr, momentum=momentum, qas=qas, master=master)
    g = build_training_graph(f, update=update, sram_budget=sram_budget, auto_options=auto_options, **kw)
    if name:
        g.name = name
    full = None
    if full_backprop:
        _log("building the full-backpropagation graph for comparison", quiet)
        full = build_training_graph(f.copy(), update="all", **kw)
    with staged_dir(out_dir) as tmp:
        info = emit_training_library(g, tmp, core.name, full_graph=full, source=str(model)
                                     if isinstance(model, (str, Path)) else g.name, features=core.features)
        need = info["training_sram"]["total_bytes"]
        if sram_budget is not None and need > sram_budget:
            raise McuforgeError(f"the training step needs {need} bytes of SRAM (arena "
                                f"{info['training_sram']['arena_bytes']} + trained params and optimizer state "
                                f"{need - info['training_sram']['arena_bytes']}), {need - sram_budget} bytes over "
                                f"the budget of {sram_budget}")
        (tmp / "report.txt").write_text(training_report(info) + "\n")
    _log(f"wrote {out_dir}: training SRAM {info['training_sram']['total_bytes']} B "
         f"(arena {info['arena_bytes']} B), weights {info['weights_bytes']} B", quiet)
    return info


def training_report(info: dict) -> str:
    meta = info.get("train_meta", {})
    opt = meta.get("optimizer", {})
    lines = [f"training step of {info['name']} ({info['quant']}, loss {info['loss']}, "
             f"QAS {'on' if meta.get('qas') else 'off'}, SGD lr {opt.get('lr')} momentum {opt.get('momentum')})",
             f"training scheme: {meta.get('update_spec', '?')}",
             f"trained tensors: " + ", ".join(f"{t['layer']}.{t['kind']}"
                                                + (f"[{t['rows']}/{t['channels']}]" if t["rows"] != t["channels"]
                                                   else "") for t in meta.get("trained", [])),
             ""]
    full = info.get("full_backprop_sram")
    lines.append(f"{'SRAM (bytes)':<24}{'this scheme':>12}" + (f"{'full backprop':>15}" if full else ""))
    for label, key in SPLIT_ROWS:
        row = f"  {label:<22}{info['training_sram'][key]:>12}"
        if full:
            row += f"{full[key]:>15}"
        lines.append(row)
    if full:
        ratio = full["total_bytes"] / max(1, info["training_sram"]["total_bytes"])
        lines.append(f"  full backprop / this scheme: {ratio:.1f}x")
    lines.append(f"flash: weights and init images {info['weights_bytes']} bytes; "
                 f"{info['macs']} MACs per step")
    return "\n".join(lines)


def simulate_training(out_dir, board: str, x, y, epochs: int = 1, x_eval=None, y_eval=None,
                      json_path=None, quiet: bool = False) -> dict:
    from .sim.train_run import train_on_board
    return train_on_board(out_dir, board, x, y, epochs, x_eval, y_eval, json_path, quiet)
