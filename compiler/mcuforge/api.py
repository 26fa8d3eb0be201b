"""The Python API; the CLI is a thin layer over these functions.

    compile_model("net.onnx", "out/", target="cortex-m4", quant="int8", calib="calib.npz")
    y, info = simulate("out/", board="mps2-an386", x=images)
    print(report("out/"))
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import McuforgeError
from .ir.graph import Graph
from .ir.ops import infer_shapes
from .ir.serialize import load_graph, save_graph
from .outdir import staged_dir

QUANT_MODES = ("int8", "float32", "fixed")


def _log(msg: str, quiet: bool = False):
    if not quiet:
        print(f"[mcuforge] {msg}", file=sys.stderr, flush=True)


def load_model(path, input_shapes: dict | None = None, example_inputs=None) -> Graph:
    """An .onnx / .tflite file, or a torch.nn.Module (exported with torch's dynamo exporter on
    example_inputs)."""
    from .frontend.torch_export import is_torch_module
    if is_torch_module(path):
        from .frontend.torch_export import load_torch
        return load_torch(path, example_inputs, input_shapes)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        from .frontend.onnx import load_onnx
        return load_onnx(path, input_shapes)
    if suffix == ".tflite":
        from .frontend.tflite import load_tflite
        return load_tflite(path)
    raise McuforgeError(f"unknown model format {path.suffix!r} for {path}: expected .onnx or .tflite")


def load_samples(path: str | Path | np.ndarray | None, g: Graph) -> list[dict[str, np.ndarray]] | None:
    """Calibration / input samples: a .npy (batch on axis 0) or .npz (one array per input, in input
    order or by name), in the model's own layout (NCHW for ONNX). Returns one feed dict per sample
    in device layout."""
    if path is None:
        return None
    from .frontend.torch_export import to_numpy
    path = to_numpy(path)
    if isinstance(path, (list, tuple)) and all(isinstance(a, np.ndarray) for a in path):
        arrays = list(path)
    elif isinstance(path, np.ndarray):
        arrays = [path]
    else:
        from .sample_files import load_array_file
        loaded = load_array_file(path, "sample")
        if isinstance(loaded, np.ndarray):
            arrays = [loaded]
        else:   # .npz: arrays by input name, else in input order
            names = g.meta.get("onnx_names", {}).get("inputs", [])
            arrays = [loaded.get(n) for n in names] if names else []
            if not arrays or any(a is None for a in arrays):
                arrays = list(loaded.values())[:len(g.inputs)]
    if len(arrays) != len(g.inputs):
        raise McuforgeError(f"samples hold {len(arrays)} arrays, the model has {len(g.inputs)} inputs")
    feeds = []
    perms = g.meta.get("io_perm", {})
    count = None
    for name, arr in zip(g.inputs, arrays):
        t = g.tensors[name]
        from .sample_files import check_real_array
        arr = check_real_array(arr, f"samples for input {name}")
        user_shape = tuple(t.shape[i] for i in np.argsort(perms[name])) if name in perms else t.shape
        per_sample = user_shape[1:] if user_shape and user_shape[0] == 1 else user_shape
        if user_shape and arr.shape[1:] == tuple(user_shape[1:]) and user_shape[0] == 1:
            batch = arr.reshape((arr.shape[0],) + tuple(user_shape))
        elif arr.shape == tuple(user_shape):
            batch = arr[None]
        elif arr.shape[1:] == tuple(user_shape):
            batch = arr
        else:
            raise McuforgeError(f"samples for input {name} have shape {arr.shape}; expected "
                                f"(N, {', '.join(map(str, per_sample))}) with the model's input shape {user_shape}")
        if name in perms:
            batch = np.stack([np.transpose(b, perms[name]) for b in batch])
        if count is not None and len(batch) != count:
            raise McuforgeError(f"samples hold {count} values for the first input but {len(batch)} for {name}; "
                                f"give every input the same number of samples")
        count = len(batch)
        feeds.append((name, batch))
    return [{name: batch[i] for name, batch in feeds} for i in range(count)]


@dataclass
class CompileResult:
    out_dir: Path
    graph: Graph
    info: dict


def prepare_graph(model, quant: str = "int8", calib=None, calib_method: str = "minmax",
                  input_shapes: dict | None = None, quiet: bool = False,
                  example_inputs=None, weight_bits=None, ternary_method: str = "absmean",
                  requant: str | None = None, mixed=None, target: str = "cortex-m4") -> tuple[Graph, dict]:
    """Frontend + passes + quantization: the device graph and what calibration chose. model is a
    file, a Graph or a torch.nn.Module (which needs example_inputs). weight_bits (8, 4, 2 or a
    dict {layer name: bits}) narrows the int8 weights of conv2d / dense (quant/subbyte.py);
    "mixed" chooses them per layer (quant/mixed.py, options in `mixed`: a MixedOptions with the
    flash / instruction budget, labels, layer-wise calibration), for the core `target`. Without
    weight_bits, layers whose weights come on a sub-byte QONNX grid (QAT exports) keep it. The
    choice and its reasons are recorded in g.meta["mixed_precision"].
    requant: the int8 requantization rounding. None (default): "single" (every requantization
    rounds the exact product once, as onnxruntime's QDQ models do; docs/int16.md) for a model
    quantized here (ONNX float or QDQ, QONNX, torch), "double" (TFLite's) for a .tflite model,
    which "single" is refused for; "double" / "single" choose it for ONNX models. requant="ort" is "single" plus onnxruntime's
    float32 arithmetic where that differs from one exact rounding (int8 add / sub, bilinear resize:
    reference/ort_float.py), to match a QDQ model run by onnxruntime bit for bit."""
    from .passes.lower_to_lut import lower_to_lut
    from .passes.pipeline import canonicalize
    if quant not in QUANT_MODES:
        raise McuforgeError(f"--quant must be one of {', '.join(QUANT_MODES)}, not {quant!r}")
    if quant == "fixed" and weight_bits not in (None, 8):
        raise McuforgeError(f"--weight-bits {weight_bits} needs --quant int8 (the C fixed-point path has 8-bit "
                            f"weights; sub-byte fixed point: mcuforge hls / rtl --weight-bits 4|2)")
    if quant == "fixed":
        return _prepare_fixed(model, calib, quiet), {}
    g = model if isinstance(model, Graph) else load_model(model, input_shapes, example_inputs)
    from .ir.validate import validate_graph
    validate_graph(g, quant)
    ranges: dict = {}
    if isinstance(weight_bits, str) and weight_bits != "mixed":
        raise McuforgeError(f"weight bits must be 8, 4, 2 or 'mixed', not {weight_bits!r}")
    if weight_bits == "mixed" and g.meta.get("quant") == "int8":
        raise McuforgeError("--weight-bits mixed needs a float model (its Hessian); this model is int8 already")
    if weight_bits not in (None, 8) and quant != "int8":
        raise McuforgeError(f"--weight-bits {weight_bits} needs --quant int8")
    if g.meta.get("quant") == "int8":
        if weight_bits not in (None, 8):
            from .quant.subbyte import narrow_int8_graph
            g = narrow_int8_graph(g, weight_bits, ternary_method)
        if quant != "int8":
            raise McuforgeError("the model is already int8; compile it with --quant int8")
    else:
        g = canonicalize(g)
        if quant == "int8" and weight_bits not in (None, 8):
            from .passes.matmul_const_lhs import matmul_const_lhs   # C @ X: a dense layer, so it narrows too
            g = matmul_const_lhs(g)
            infer_shapes(g)
        if quant == "int8":
            validate_graph(g, quant)  # folding (BatchNorm with a negative variance, ...) may create NaN
            from .quant.qonnx import check_int8
            check_int8(g)  # QONNX grids wider than 8 bits
            samples = load_samples(calib, g)
            missing = [t for t in list(g.inputs) + [o for n in g.nodes.values() for o in n.outputs]
                       if g.tensors[t].quant is None]
            if weight_bits == "mixed" and not samples:
                raise McuforgeError("--weight-bits mixed needs calibration samples (--calib X.npy): the layers' "
                                    "Hessian sensitivities are measured on them")
            if missing and not samples:
                raise McuforgeError("int8 quantization needs calibration samples: pass --calib SAMPLES.npz "
                                    "(or compile with --quant float32)")
            from .quant.calibrate import calibrate
            from .quant.int8 import quantize_int8
            if samples:
                _log(f"calibrating on {len(samples)} samples ({calib_method})", quiet)
                ranges = calibrate(g, samples, calib_method)
            if weight_bits == "mixed" and requant in ("double", "single", "ort"):
                g.meta["requant"] = "single" if requant == "ort" else requant   # the kernels the ILP prices
            g, weight_bits = _choose_weight_bits(g, ranges, samples, weight_bits, ternary_method, mixed, target, quiet)
            g = quantize_int8(g, ranges, weight_bits=weight_bits, ternary_method=ternary_method)
    _set_requant(g, requant)
    from .reference.arith import rounding
    with rounding(g.meta.get("requant")):   # the tables lower_to_lut fills use the same rounding
        if g.meta.get("quant") == "int8":
            g = lower_to_lut(g)
        infer_shapes(g)
        if g.meta.get("quant") == "int8":
            from .quant.range_check import check_int8_ranges
            check_int8_ranges(g)
    if requant == "ort":   # single rounding, and onnxruntime's float32 rules where they differ
        from .passes.ort_rules import apply_ort_rules
        apply_ort_rules(g)
    return g, ranges


def _set_requant(g: Graph, requant: str | None) -> None:
    """Record the int8 requantization rounding in g.meta["requant"] (the golden model, the C
    library's mcf_config.h and graph.json follow it). None is the default by origin: a .tflite
    model keeps TFLite's double rounding (byte-exact with tflite-micro); a model quantized here
    (ONNX float + calibration, QDQ, QONNX, torch) rounds once, as onnxruntime's QDQ model does
    (docs/int16.md section 3); a graph that already records a rounding keeps it."""
    from .reference.arith import ROUNDING_MODES
    if requant is not None and requant not in ROUNDING_MODES + ("ort",):
        raise McuforgeError(f"requant must be one of {', '.join(ROUNDING_MODES + ('ort',))}, not {requant!r}")
    if requant in ("single", "ort") and (default_requant(g) == "double" or g.meta.get("quant") != "int8"):
        raise McuforgeError(f"requant={requant!r} is for int8 models quantized from ONNX or float; a .tflite "
                            "model (int8 or 16x8) keeps TFLite Micro's double rounding, a float32 build has "
                            "no requantization")
    if g.meta.get("quant") != "int8":
        return
    if requant is None:
        requant = g.meta.get("requant") or default_requant(g)
    g.meta["requant"] = "single" if requant == "ort" else requant   # "ort" = single + the rules below


def default_requant(g: Graph) -> str:
    """The rounding a model of this origin gets by default: "double" for a .tflite model (int8
    or 16x8: TFLite's arithmetic, tflite-micro the oracle), "single" for one quantized here."""
    tflite = g.meta.get("source") == "tflite"
    int16_acts = any(t.dtype == "int16" and not t.is_const for t in g.tensors.values())
    return "double" if tflite or int16_acts else "single"


def _prepare_fixed(model, calib, quiet: bool) -> Graph:
    """The `fixed` contract for C: the FPGA backends' fixed-point graph (a QONNX / QFX model's own
    power-of-two types, calibration for the rest: 8-bit activations and weights, round half up,
    saturate), stored as int8 / int32 for the C kernels (codegen/c/layers/fixed.py)."""
    from .codegen.c.layers.fixed import to_c_storage
    from .codegen.fpga.prepare import prepare_fixed
    if isinstance(model, Graph) and model.meta.get("quant") == "fixed":  # already typed (tests)
        g = to_c_storage(model.copy())
        infer_shapes(g)
        return g
    if calib is None:
        _log("no --calib samples: binary points the model does not set (QONNX Quant nodes set theirs) "
             "come from uniform noise in [0, 1]", quiet)
    g = to_c_storage(prepare_fixed(model, calib, act_bits=8, weight_bits=8))
    infer_shapes(g)
    return g


def _choose_weight_bits(g: Graph, ranges: dict, samples, weight_bits, ternary_method: str, mixed, target: str,
                        quiet: bool):
    """The widths quantize_int8 gets: QAT widths of the model, the mixed-precision choice, or the
    user's; with layer-wise calibration (bias correction / AdaQuant) applied to the float graph."""
    from .quant.mixed import MixedOptions, choose_widths, widths_from_graph
    from .quant.subbyte import resolve_weight_bits
    if weight_bits is None:
        weight_bits = widths_from_graph(g)
        if weight_bits:
            _log("keeping the sub-byte weight grids of the model: "
                 + ", ".join(f"{n}={b}" for n, b in weight_bits.items()), quiet)
        return g, weight_bits
    if weight_bits == "mixed":
        from .targets import load_core
        g, config, record = choose_widths(g, ranges, samples, mixed or MixedOptions(), load_core(target), quiet)
        g.meta["mixed_precision"] = record
        return g, config
    if mixed is not None and mixed.layer_calib != "none" and weight_bits != 8:
        from .quant.sensitivity import adaquant, bias_correction
        from .quant.mixed import samples_batch
        if not samples:
            raise McuforgeError("layer-wise calibration needs calibration samples (--calib)")
        x = samples_batch(g, samples)
        config = {n: b for n, b in resolve_weight_bits(g, weight_bits).items()}
        fix = adaquant if mixed.layer_calib == "adaquant" else bias_correction
        _log(f"layer-wise calibration ({mixed.layer_calib})", quiet)
        g = fix(g, x, config, ternary=ternary_method, max_samples=mixed.max_samples)
    return g, weight_bits


def compile_model(model, out_dir, target: str = "cortex-m4", quant: str = "int8", calib=None,
                  calib_method: str = "minmax", input_shapes: dict | None = None, name: str | None = None,
                  portable_kernels: bool = False, quiet: bool = False,
                  io_in_arena: bool | None = None, arena_budget: int | None = None,
                  min_arena: bool = False, planner=None, example_inputs=None,
                  weight_bits=None, ternary_method: str = "absmean", patch=None,
                  max_patch_overhead: float | None = None, speed_first: bool = False,
                  requant: str | None = None, mixed=None, quantmcu=None) -> CompileResult:
    """model: an .onnx or .tflite file, a Graph, or a torch.nn.Module; a module is exported with
    torch's dynamo exporter on example_inputs (a tensor or array of the input shape, batch 1, or a
    tuple of them); calib may then be a torch tensor as well as an array or a file.
    io_in_arena (default: on for int8 models) plans the input and output inside the arena as
    TFLite Micro does and adds the zero-copy API (<prefix>_input/_invoke/_output). While the arena
    is above arena_budget (bytes; min_arena is a budget of 0) the layers whose kernel scratch sets
    its peak get a leaner, slower kernel variant; the others keep the fastest. Without a budget
    (the default) those layers' kernels are chosen from both costs, the arena and the modelled
    instructions (codegen/c/lean.py, pareto_peak); speed_first keeps the fastest kernels. planner (graph ->
    ArenaPlan, e.g. a baseline to compare with) replaces the kernel-aware planning.
    weight_bits: 8 (default), 4 (int4 in [-7, 7]) or 2 (ternary, scale by ternary_method
    'absmean' or 'median') for every conv2d / dense, or a dict {layer name: 8 | 4 | 2}; the
    weights are stored packed (two or four per byte) and the report lists each layer's width.
    patch ("auto", "off", or "<rows>x<cols>@<node>") runs the first layers patch by patch
    (schedule/patches.py); "auto" keeps the layer-wise schedule unless the patched one has the
    smaller arena, max_patch_overhead bounds its recomputed MACs (default 0.25 = +25 %). Left at
    None with no other memory flag (the default), patches are tried where the arena's peak lies
    in the patchable first layers and kept if arena x modelled instructions is the smaller.

    requant: see prepare_graph (default: "single" for models quantized here, "double" for
    .tflite; every kernel variant, portable, tuned C, DSP and Helium, follows it through the
    generated mcf_config.h; model.json records it).
    weight_bits="mixed" chooses each layer's width under the budgets of `mixed`
    (quant.mixed.MixedOptions: flash_budget in bytes of constants, instr_budget, labels,
    layer_calib); model.json and the report then hold each layer's Omega and the budget.
    quantmcu (True or a schedule.quantmcu.QuantMCUOptions; off by default) runs the patch stage
    with QuantMCU's value-driven mixed precision (4 / 2-bit activations in outlier-free patches,
    decided per patch at run time; docs/patches.md), calibrated on `calib`; patch defaults to
    "auto" then. model.json's "quantmcu" holds the thresholds, widths and BitOPs."""
    from .codegen.c.emit import lower_to_c, write_c_library
    from .report.layers import layer_table, write_report
    from .targets import load_core
    from .frontend.torch_export import is_torch_module, module_name
    core = load_core(target)
    if isinstance(model, Graph):
        src_name = model.name
    elif is_torch_module(model):
        src_name = f"{module_name(model)}.onnx"  # what the dynamo exporter made of the module
        _log(f"exporting {type(model).__name__} with torch.onnx.export(dynamo=True)", quiet)
    else:
        src_name = str(model)
    _log(f"loading {src_name}", quiet)
    if (weight_bits == "mixed" and mixed is not None and mixed.instr_budget is not None and not min_arena
            and arena_budget is None and planner is None and patch is None and not quantmcu):
        # an instruction budget is priced (quant.mixed) and met with every layer on its fastest kernel:
        # the default choice trades instructions for arena where a layer sets the peak, and which
        # layer does changes with the widths, so the priced kernels would not be the built ones
        import dataclasses
        mixed = dataclasses.replace(mixed, speed_first=True)
        speed_first = True
    g, ranges = prepare_graph(model, quant, calib, calib_method, input_shapes, quiet, example_inputs,
                              weight_bits, ternary_method, requant, mixed, target)
    if name:
        g.name = name
    _log(f"generating C for {core.name} ({len(g.nodes)} layers)", quiet)
    if io_in_arena is None:
        io_in_arena = g.meta.get("quant") == "int8"
    if min_arena:
        arena_budget = 0
    patch_plan, patch_note, qm_plan = None, None, None
    if quantmcu:
        if g.meta.get("quant") != "int8":
            raise McuforgeError("--quantmcu needs an int8 model (--quant int8)")
        if requant == "ort":   # its dual-precision patch kernels implement the integer rules only
            raise McuforgeError("--quantmcu does not combine with --requant ort; use --requant single")
        from .schedule.quantmcu import QuantMCUOptions, lower_quantmcu
        samples = load_samples(calib, g)
        if not samples:
            raise McuforgeError("--quantmcu needs calibration samples (--calib) for its thresholds and widths")
        cm, g, patch_plan, qm_plan, patch_note = lower_quantmcu(
            g, core.features, patch if patch not in (None, False) else "auto", samples,
            quantmcu if isinstance(quantmcu, QuantMCUOptions) else QuantMCUOptions(),
            lambda graph: lower_to_c(graph, core.features, portable_only=portable_kernels, io_in_arena=io_in_arena,
                                     arena_budget=arena_budget, speed_first=speed_first),
            io_in_arena=io_in_arena, budget=arena_budget, max_overhead=max_patch_overhead)
        _log(patch_note, quiet)
    # the default (no memory flag at all): patches too where the arena x instructions rule says so
    pareto_default = (not quantmcu and patch is None and planner is None and arena_budget is None and not speed_first
                      and not portable_kernels and g.meta.get("quant") == "int8"
                      # the patch stage's paste kernel is int8; 16x8 models stay layer-wise
                      and all(t.dtype != "int16" for t in g.tensors.values()))
    if pareto_default:
        from .codegen.c.lean import keep_patched, patches_may_pay
        from .schedule.patches import lower_patched
        cm = lower_to_c(g, core.features, io_in_arena=io_in_arena)
        if patches_may_pay(g, cm):
            _log("trying patch-based inference (the arena's peak is in the first layers)", quiet)
            cm, g, patch_plan, patch_note = lower_patched(
                g, core.features, "auto", lambda graph: lower_to_c(graph, core.features, io_in_arena=io_in_arena),
                io_in_arena=io_in_arena, max_overhead=max_patch_overhead, keep=keep_patched, cm_layerwise=cm)
            _log(patch_note, quiet)
    elif quantmcu:
        pass
    elif patch not in (None, "off", False) and planner is None:
        from .schedule.patches import lower_patched
        cm, g, patch_plan, patch_note = lower_patched(
            g, core.features, patch, lambda graph: lower_to_c(
                graph, core.features, portable_only=portable_kernels, io_in_arena=io_in_arena,
                arena_budget=arena_budget, speed_first=speed_first), io_in_arena=io_in_arena, budget=arena_budget,
            max_overhead=max_patch_overhead)
        _log(patch_note, quiet)
    else:
        cm = lower_to_c(g, core.features, portable_only=portable_kernels, io_in_arena=io_in_arena,
                        arena_budget=arena_budget, plan=planner(g) if planner else None,
                        speed_first=speed_first)
    info = {
        "backend": "c", "name": g.name, "prefix": cm.prefix, "target": core.name, "quant": g.meta.get("quant", "float32"),
        "source": Path(src_name).name, "inputs": cm.inputs, "outputs": cm.outputs,
        "arena_bytes": cm.plan.size,
        # bytes of caller-owned input/output buffers the library needs besides its arena
        "io_bytes": 0 if cm.io_in_arena else sum(g.tensors[t].nbytes for t in g.inputs + g.outputs),
        "io_in_arena": cm.io_in_arena, "arena_budget": arena_budget, "speed_first": speed_first,
        "kernel_choice": cm.pareto,
        "weights_bytes": int(sum(a.nbytes for a in cm.arrays if not getattr(a, "alias", None))),
        "weight_bits": {n.name: int(n.attrs.get("weight_bits", 8)) for n in g.topo_order() if "weight_bits" in n.attrs},
        "macs": int(sum(l.macs for l in cm.layers)),
        "runtime_sources": cm.runtime_sources,
        "layers": layer_table(g, cm, ranges),
        "patches": patch_plan.report(cm) if patch_plan else None,
        "quantmcu": qm_plan.describe() if qm_plan else None,
        "requant": g.meta.get("requant"),
    }
    if "mixed_precision" in g.meta:
        info["mixed_precision"] = g.meta["mixed_precision"]
        budget = info["mixed_precision"]["flash_budget"]
        if budget is not None and info["weights_bytes"] > budget:
            raise McuforgeError(f"the chosen widths store {info['weights_bytes']} B of constants, "
                                f"{info['weights_bytes'] - budget} B over the flash budget {budget} B")
    with staged_dir(out_dir) as tmp:
        write_c_library(cm, tmp, src_name, core.name, info["quant"])
        save_graph(g, tmp / "graph.json", tmp / "graph.npz")
        (tmp / "model.json").write_text(json.dumps(info, indent=1, sort_keys=True, default=_json_default))
        write_report(info, cm, tmp)
    _log(f"wrote {out_dir}: arena {cm.plan.size} B, weights {info['weights_bytes']} B, {info['macs']} MACs", quiet)
    return CompileResult(Path(out_dir), g, info)


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def read_info(out_dir) -> dict:
    p = Path(out_dir) / "model.json"
    if not p.is_file():
        raise McuforgeError(f"{out_dir} is not an mcuforge output folder (no model.json)")
    return json.loads(p.read_text())


def to_device_inputs(info: dict, x) -> list[np.ndarray]:
    """User samples (float or raw, the model's layout, batch first) -> device arrays per input."""
    xs = x if isinstance(x, (list, tuple)) else [x]
    if len(xs) != len(info["inputs"]):
        raise McuforgeError(f"the model has {len(info['inputs'])} inputs, got {len(xs)} arrays")
    out = []
    for io, arr in zip(info["inputs"], xs):
        arr = check_input_array(io, arr)
        shape = tuple(io["shape"])
        perm = io["perm"]
        user = tuple(shape[i] for i in np.argsort(perm)) if perm else shape
        if arr.shape == user:
            arr = arr[None]
        elif user and arr.shape[1:] == user[1:] and user[0] == 1:
            arr = arr.reshape((arr.shape[0],) + user)
        elif arr.shape[1:] != user:
            raise McuforgeError(f"input {io['name']}: got shape {arr.shape}, expected (N, {user}) batch of {user}")
        if perm:
            arr = np.transpose(arr, (0,) + tuple(p + 1 for p in perm)) if arr.ndim == len(perm) + 1 else \
                np.stack([np.transpose(a, perm) for a in arr])
        if io["dtype"] == "int8" and io.get("fixed") and arr.dtype.kind == "f":
            from .reference.fixed_arith import FixedType, from_float
            arr = from_float(arr, FixedType.from_dict(io["fixed"]))  # the input type's rounding
        if io["dtype"] in INT_IO:
            if arr.dtype.kind == "f":
                from .reference.arith import round_half_away
                q = io["quant"]
                lo, hi = INT_IO[io["dtype"]]
                with np.errstate(over="ignore"):
                    arr = np.clip(round_half_away(arr.astype(np.float64) / q["scale"]) + q["zero_point"], lo, hi)
            arr = arr.astype(io["dtype"])
        else:
            arr = arr.astype(np.float32)
        out.append(np.ascontiguousarray(arr))
    counts = {len(a) for a in out}
    if len(counts) > 1:
        raise McuforgeError(f"the inputs hold different numbers of samples ({', '.join(str(len(a)) for a in out)}); "
                            f"give every input the same batch size")
    if out and len(out[0]) == 0:
        raise McuforgeError("the input batch is empty")
    return out


INPUT_RULE = ("float samples (float16/32/64) are quantized with the model's input scale and zero point "
              "(int8 / int16 inputs) or used as float32; int8 samples are fed as they are to an int8 input "
              "(int16 samples to an int16 input); other types are refused")
INT_IO = {"int8": (-128, 127), "int16": (-32768, 32767)}   # integer model inputs and their ranges


def check_input_array(io: dict, arr) -> np.ndarray:
    """The one rule per dtype for simulate inputs (INPUT_RULE); NaN and inf refused."""
    try:
        arr = np.asarray(arr)
    except Exception as e:  # noqa: BLE001 - ragged lists and other non-arrays
        raise McuforgeError(f"input {io['name']}: not an array ({e})") from None
    kind = arr.dtype.kind
    if kind == "f":
        if not np.all(np.isfinite(arr)):
            raise McuforgeError(f"input {io['name']}: samples hold NaN or infinite values")
    elif not (io["dtype"] in INT_IO and arr.dtype == np.dtype(io["dtype"])):
        raise McuforgeError(f"input {io['name']}: samples of type {arr.dtype} for a {io['dtype']} input; "
                            + INPUT_RULE)
    if arr.ndim == 0 or arr.size == 0:
        raise McuforgeError(f"input {io['name']}: the batch is empty (shape {arr.shape})")
    return arr


def from_device_outputs(info: dict, ys: list[np.ndarray]) -> list[np.ndarray]:
    """Device arrays (N, *shape) -> the model's layout; a model batch axis of 1 becomes the N axis."""
    out = []
    for io, y in zip(info["outputs"], ys):
        if io["perm"]:
            inv = np.argsort(io["perm"])
            y = np.stack([np.transpose(v, inv) for v in y])
        if len(io["shape"]) > 1 and io["shape"][0] == 1:
            y = y.reshape((y.shape[0],) + tuple(y.shape[2:]))
        out.append(y)
    return out


def simulate(out_dir, board: str = "mps2-an386", x=None, quiet: bool = False, opt: str = "-O2"):
    """Run a compiled model on a board ('reference' = golden model, 'host' = native build, or a QEMU
    board). Returns (outputs, info): outputs is one array (or a list, for several outputs) with the
    batch on axis 0; info has instructions (per inference), flash/ram/arena/stack bytes."""
    from .sim.run_model import run_on_board
    info = read_info(out_dir)
    if info.get("backend") in ("hls", "rtl"):
        from .sim.fpga import simulate_fpga
        return simulate_fpga(out_dir, board, x)
    if x is None:
        rng = np.random.default_rng(0)
        x = [rng.integers(INT_IO[io["dtype"]][0], INT_IO[io["dtype"]][1] + 1, size=(1,) + tuple(io["shape"]),
                          dtype=io["dtype"]) if io["dtype"] in INT_IO
             else rng.standard_normal((1,) + tuple(io["shape"])).astype(np.float32) for io in info["inputs"]]
        x = [np.transpose(a, (0,) + tuple(np.argsort(io["perm"]) + 1)) if io["perm"] else a
             for a, io in zip(x, info["inputs"])]
    from .frontend.torch_export import to_numpy
    xs = to_device_inputs(info, to_numpy(x))
    if board == "reference":
        from .reference.executor import Executor
        g = load_graph(Path(out_dir) / "graph.json", Path(out_dir) / "graph.npz")
        ex = Executor(g)
        n = len(xs[0])
        ys = [[] for _ in g.outputs]
        for i in range(n):
            res = ex.run({name: a[i] for name, a in zip(g.inputs, xs)})
            for k, name in enumerate(g.outputs):
                ys[k].append(res[name])
        result = {"board": "reference", "instructions": None, "flash_bytes": None, "ram_bytes": None,
                  "arena_bytes": info["arena_bytes"], "stack_bytes": None}
        ys = [np.stack(y) for y in ys]
    else:
        ys, result = run_on_board(Path(out_dir), info, board, xs, quiet=quiet, opt=opt)
    outs = from_device_outputs(info, ys)
    return (outs[0] if len(outs) == 1 else outs), result


def report(out_dir) -> str:
    from .report.layers import render_text
    info = read_info(out_dir)
    text = render_text(info)
    if "mixed_precision" in info:
        from .quant.mixed import render_mixed
        text += "\n" + render_mixed(info["mixed_precision"])
    return text
