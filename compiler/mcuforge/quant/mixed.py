"""Mixed-precision weights in the compile flow: sensitivity -> costs -> integer program -> fixes.

choose_widths(g, ranges, samples, opts, core) takes the canonical float graph and its calibration:
  1. HAWQ-V2 sensitivities with the inter-layer terms (quant.sensitivity) on the calibration
     samples (labels from --calib-data, else the float model's own predictions);
  2. each layer's flash bytes at 8 / 4 / 2 bits exactly as the C emitter stores them (the graph is
     quantized and lowered once per uniform width; the arrays of the layers without weights are
     the fixed part) and, with an instruction budget, its instructions from the per-kernel models
     (quant.instr_model) plus one QEMU run of the 8-bit model for the part no width changes;
  3. the MILP (quant.bit_allocation) for the widths;
  4. bias correction or AdaQuant layer-wise calibration for the chosen widths.
It returns the float graph to quantize, the widths, and the record the report prints.
"""
from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass

import numpy as np

from ..errors import McuforgeError
from ..ir.graph import Graph

LAYER_CALIB = ("none", "bias", "adaquant")


@dataclass
class MixedOptions:
    flash_budget: int | None = None        # bytes of the model's constant arrays (model.json weights_bytes)
    instr_budget: int | None = None        # executed instructions per inference on the target's QEMU board
    labels: np.ndarray | None = None       # class labels of the calibration samples (--calib-data)
    layer_calib: str = "bias"              # none | bias | adaquant
    n_probe: int = 48
    interlayer: bool = True
    ternary_method: str = "absmean"
    max_samples: int = 256
    board: str | None = None               # QEMU board for the instruction budget (default: the core's)
    portable_kernels: bool = False
    adaquant_steps: int = 200
    speed_first: bool = False              # every layer on its fastest kernel (api.compile_model sets it
                                           # with an instruction budget): lowered, measured and built so,
                                           # so the kernels priced are the kernels built


def widths_from_graph(g: Graph) -> dict | None:
    """{layer: bits} for layers whose weights came on a sub-byte QONNX grid (QAT exports), or None."""
    from .int8 import WEIGHT_OPS
    from .subbyte import SUBBYTE_OPS, grid_max
    out = {}
    for n in g.topo_order():
        if n.op not in WEIGHT_OPS or len(n.inputs) < 2:
            continue
        w = g.tensors[n.inputs[1]]
        qb = w.meta.get("q_bits")
        if qb is None or "q_int" not in w.meta or n.op not in SUBBYTE_OPS:
            continue
        bits, signed, narrow = qb
        peak = int(np.abs(np.asarray(w.meta["q_int"], np.int64)).max(initial=0))
        for b in (2, 4):
            if bits <= b and signed and peak <= grid_max(b):
                out[n.name] = b
                break
    return out or None


def samples_batch(g: Graph, samples: list[dict]) -> np.ndarray:
    if len(g.inputs) != 1:
        raise McuforgeError("mixed precision supports models with one input")
    name = g.inputs[0]
    shape = g.tensors[name].shape
    return np.stack([np.asarray(s[name], np.float64).reshape(shape[1:]) for s in samples])


def check_labels(g: Graph, labels, n: int) -> np.ndarray:
    """--calib-data: one integer class index per calibration sample, each a class of the model's
    (single) output, whose values per sample are the classes."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise McuforgeError(f"--calib-data: expected one integer class label per sample (shape (N,)), got "
                            f"{labels.dtype} of shape {labels.shape}")
    if len(labels) != n:
        raise McuforgeError(f"--calib-data holds {len(labels)} labels for {n} calibration samples; "
                            f"give one label per --calib sample")
    if len(g.outputs) == 1:
        classes = int(np.prod(g.tensors[g.outputs[0]].shape[1:], dtype=np.int64))
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= classes:
            raise McuforgeError(f"--calib-data labels run from {lo} to {hi}; the model's output has {classes} "
                                f"classes, so labels must lie in 0..{classes - 1}")
    return labels


def core_board(core) -> str:
    from ..targets import list_boards, load_board
    for b in list_boards():
        board = load_board(b)
        if board.core.name == core.name and board.kind == "qemu":
            return b
    raise McuforgeError(f"no QEMU board for {core.name}: an instruction budget is counted on an emulated board "
                        f"(targets/boards); compile for a Cortex-M core or give only --flash-budget")


def build_requant(g: Graph) -> str:
    """The requantization rounding the build will use (api._set_requant): the graph's own, else
    its origin's default. The kernels follow it (the sub-byte left-shift convolutions are `_lss`
    under single rounding, `_dsp_lsh` under double), so the rows priced here must as well."""
    from ..api import default_requant
    return g.meta.get("requant") or default_requant(g)


def lower_uniform(g: Graph, ranges: dict, bits, core, opts: MixedOptions):
    """The layer rows (report.layers.layer_table) of g quantized with weight_bits=bits and lowered."""
    from ..codegen.c.emit import lower_to_c
    from ..ir.ops import infer_shapes
    from ..passes.lower_to_lut import lower_to_lut
    from ..report.layers import layer_table
    from .int8 import quantize_int8
    gq = quantize_int8(g, ranges, weight_bits=bits, ternary_method=opts.ternary_method)
    gq.meta["requant"] = build_requant(g)
    gq = lower_to_lut(gq)
    infer_shapes(gq)
    cm = lower_to_c(gq, core.features, portable_only=opts.portable_kernels, speed_first=opts.speed_first)
    from .instr_model import annotate_rows
    rows = annotate_rows(gq, layer_table(gq, cm, ranges))
    return rows, int(sum(a.nbytes for a in cm.arrays))


def measure_instructions(g: Graph, ranges: dict, bits, core, opts: MixedOptions) -> int:
    """Instructions per inference of g at the given widths on the core's QEMU board."""
    from ..api import compile_model, simulate
    from .int8 import quantize_int8
    board = opts.board or core_board(core)
    with tempfile.TemporaryDirectory() as tmp:
        # quantize here with the ranges already chosen (compiling the float graph would recalibrate)
        q = quantize_int8(g, ranges, weight_bits=bits, ternary_method=opts.ternary_method)
        q.meta["requant"] = build_requant(g)
        compile_model(q, f"{tmp}/m", target=core.name, quiet=True, portable_kernels=opts.portable_kernels,
                      speed_first=opts.speed_first)
        _, m = simulate(f"{tmp}/m", board=board, x=None, quiet=True)
    return int(m["instructions"])


def choose_widths(g: Graph, ranges: dict, samples: list[dict], opts: MixedOptions, core,
                  quiet: bool = False) -> tuple[Graph, dict, dict]:
    from .bit_allocation import allocate, infeasible_message
    from .sensitivity import WIDTHS, adaquant, bias_correction, hessian_sensitivity, weight_layers
    if not samples:
        raise McuforgeError("--weight-bits mixed needs calibration samples (--calib)")
    if opts.flash_budget is None and opts.instr_budget is None:
        raise McuforgeError("--weight-bits mixed needs a budget: --flash-budget BYTES and/or --instr-budget N")
    if opts.layer_calib not in LAYER_CALIB:
        raise McuforgeError(f"layer-wise calibration must be one of {', '.join(LAYER_CALIB)}, not {opts.layer_calib!r}")
    for flag, v in (("flash", opts.flash_budget), ("instruction", opts.instr_budget)):
        if v is not None and v <= 0:
            raise McuforgeError(f"the {flag} budget must be positive, not {v}")
    log = (lambda m: None) if quiet else (lambda m: print(f"[mcuforge] {m}", file=sys.stderr, flush=True))
    names = weight_layers(g)
    if not names:
        ops = sorted({n.op for n in g.topo_order()})
        raise McuforgeError("--weight-bits mixed: the model has no conv / fully connected layer with constant "
                            f"weights to give a width (its ops: {', '.join(ops)}); compile it without --weight-bits")
    x = samples_batch(g, samples)
    labels = None
    if opts.labels is not None:
        labels = check_labels(g, opts.labels, len(x))
    if opts.instr_budget is not None:   # the core's QEMU board and instruction models, before any work
        from .instr_model import load_instr_model
        board = opts.board or core_board(core)
        model = load_instr_model(core.name)
    # exact flash per (layer, width): as the emitter stores it; a budget no configuration meets fails
    # here, before the Hessian (minutes on a real model)
    rows = {}
    totals = {}
    for b in WIDTHS:
        r, total = lower_uniform(g, ranges, b, core, opts)
        rows[b] = {row["name"]: row for row in r}
        totals[b] = total
    fixed_bytes = totals[8] - sum(rows[8][n]["weight_bytes"] for n in names)
    if opts.flash_budget is not None:
        smallest = fixed_bytes + sum(min(int(rows[b][n]["weight_bytes"]) for b in WIDTHS) for n in names)
        if opts.flash_budget < smallest:
            raise McuforgeError(infeasible_message(opts.flash_budget, smallest, None, None))
    instr_cost, fixed_instr = None, 0.0
    if opts.instr_budget is not None:
        instr_cost = {(n, b): model.predict(rows[b][n]) for n in names for b in WIDTHS}
        for k, alt in sorted(model.borrowed):
            log(f"instruction model: {k} has none of its own, using {alt}'s")
        log(f"measuring the 8-bit model on {board} for the layers without weights")
        measured8 = measure_instructions(g, ranges, 8, core, opts)
        fixed_instr = measured8 - sum(instr_cost[(n, 8)] for n in names)
        least = fixed_instr + sum(min(instr_cost[(n, b)] for b in WIDTHS) for n in names)
        if opts.instr_budget < least:
            raise McuforgeError(infeasible_message(None, None, opts.instr_budget, least))
    log(f"Hessian traces: {opts.n_probe} Hutchinson probes on {min(len(x), opts.max_samples)} samples")
    sens = hessian_sensitivity(g, x, labels, n_probe=opts.n_probe, interlayer=opts.interlayer,
                               max_samples=opts.max_samples, ternary=opts.ternary_method)
    assert [l.name for l in sens.layers] == names and tuple(sens.widths) == WIDTHS
    for l in sens.layers:
        l.bytes = {b: int(rows[b][l.name]["weight_bytes"]) for b in sens.widths}
    alloc = allocate(sens, flash_budget=opts.flash_budget, instr_budget=opts.instr_budget, instr_cost=instr_cost,
                     fixed_bytes=fixed_bytes, fixed_instr=fixed_instr, interlayer=opts.interlayer)
    config = alloc.config
    log("widths: " + ", ".join(f"{n}={b}" for n, b in config.items())
        + f" ({alloc.weight_bytes} B predicted, budget {opts.flash_budget})")
    if opts.layer_calib == "bias":
        g = bias_correction(g, x, config, ternary=opts.ternary_method, max_samples=opts.max_samples)
    elif opts.layer_calib == "adaquant":
        log("AdaQuant layer-wise calibration")
        g = adaquant(g, x, config, steps=opts.adaquant_steps, ternary=opts.ternary_method,
                     max_samples=opts.max_samples)
    record = {
        "flash_budget": opts.flash_budget, "instr_budget": opts.instr_budget,
        "predicted_bytes": alloc.weight_bytes, "predicted_instructions": alloc.instructions,
        "predicted_loss": alloc.predicted_loss, "fixed_bytes": int(fixed_bytes), "fixed_instructions": fixed_instr,
        "layer_calib": opts.layer_calib, "interlayer": opts.interlayer, "n_probe": sens.n_probe,
        "labels": "given" if labels is not None else "float model's predictions",
        "uniform_bytes": {str(b): totals[b] for b in sens.widths},
        "layers": [{"name": l.name, "bits": config[l.name], "trace": l.trace, "trace_std": l.trace_std,
                    "n_params": l.n_params, "omega": {str(b): l.omega[b] for b in sens.widths},
                    "bytes": {str(b): l.bytes[b] for b in sens.widths},
                    "instructions": ({str(b): instr_cost[(l.name, b)] for b in sens.widths} if instr_cost else None)}
                   for l in sens.layers],
    }
    return g, config, record


def render_mixed(record: dict) -> str:
    """The report's section: each layer's width and why (its Omega per width, the budget)."""
    lines = ["", "Mixed precision (HAWQ-V2 sensitivities + integer program"
             + (", with inter-layer terms" if record.get("interlayer") else "") + ")"]
    budget = []
    if record.get("flash_budget") is not None:
        budget.append(f"flash budget {record['flash_budget']:,} B -> {record['predicted_bytes']:,} B of constants")
    if record.get("instr_budget") is not None:
        budget.append(f"instruction budget {record['instr_budget']:,} -> {record['predicted_instructions']:,.0f} predicted")
    lines.append("  " + "; ".join(budget) + f"; predicted loss increase {record['predicted_loss']:.3g}"
                 + f"; layer-wise calibration: {record['layer_calib']}; labels: {record['labels']}")
    uni = record.get("uniform_bytes", {})
    if uni:
        lines.append("  uniform widths would store " + ", ".join(f"{b}-bit {v:,} B" for b, v in uni.items()))
    head = ["layer", "bits", "Tr(H)", "Omega 8", "Omega 4", "Omega 2", "bytes 8/4/2", "why"]
    body = []
    for l in record["layers"]:
        om = l["omega"]
        b = l["bits"]
        cheaper = [w for w in ("4", "2") if int(w) < b]
        if b == 2:
            why = "lowest width: its loss term is small for the bytes it saves"
        elif cheaper:
            why = f"{cheaper[0]} bits would add {om[cheaper[0]] / 2 - om[str(b)] / 2:.2g} to the loss for " \
                  f"{l['bytes'][str(b)] - l['bytes'][cheaper[0]]:,} B"
        else:
            why = ""
        body.append([l["name"], str(b), f"{l['trace']:.3g}", f"{om['8']:.2g}", f"{om['4']:.2g}", f"{om['2']:.2g}",
                     "/".join(f"{l['bytes'][w]:,}" for w in ("8", "4", "2")), why])
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]
    lines.append("  " + "  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for r in body:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return "\n".join(lines)
