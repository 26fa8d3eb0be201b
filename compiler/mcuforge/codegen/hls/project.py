"""`mcuforge hls`: a Vitis HLS project of the fixed-point model.

    PRJ/firmware/<name>.cpp        top function (INTERFACE, DATAFLOW, ARRAY_PARTITION pragmas)
    PRJ/firmware/defines.h         ap_fixed typedef of every tensor
    PRJ/firmware/parameters.h      per-layer config structs (shapes, reuse factor, types)
    PRJ/firmware/weights/*.h       weights and biases as exact literals
    PRJ/firmware/nnet/*.h          mcuforge's layer library (templates/hls/nnet)
    PRJ/firmware/ap_types/         mcuforge's own ap_fixed subset (C-simulation without Vitis)
    PRJ/tb/<name>_test.cpp         testbench; PRJ/tb_data/ golden vectors
    PRJ/build_prj.tcl              csim, synth and cosim for vitis_hls
    PRJ/graph.json, graph.npz      the exact fixed-point model (simulate --board reference)
    PRJ/model.json                 {"backend": "hls", ...}
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ... import resources
from ..jinja import render
from ..fpga import golden
from ..fpga.khot import KHOT_MAX
from ..fpga.literals import literal_list
from ..fpga.output_dir import staged_dir
from ..fpga.parts import load_part
from .layers import HlsLayers

N_TEST_FRAMES = 16


def write_hls_project(model, out_dir, part: str = "xc7z020", calib=None, reuse: int = 1,
                      act_bits: int = 16, weight_bits: int = 8, rounding: str = "rnd",
                      overflow: str = "sat", name: str = "myproject", overrides=None,
                      n_test: int = N_TEST_FRAMES, khot_max: int = KHOT_MAX,
                      ternary_method: str = "absmean", per_channel: bool = True,
                      bias_correction: bool = True) -> Path:
    """Emit the project; returns its folder. `model`: .onnx/.tflite path, float Graph, or a Graph
    already in the fixed scheme (then calib/widths are ignored). `khot_max`: layers whose weights
    are all sums of at most this many signed powers of two multiply by shift and add (0: never).
    weight_bits 4 / 2: sub-byte layers (int4 weights ap_fixed<4, I> in [-7, 7], ternary {-1, 0, 1}
    as add / subtract; quant/fixed.py)."""
    from ...errors import McuforgeError
    if reuse < 1:
        raise McuforgeError(f"reuse factor must be at least 1, not {reuse}")
    fpga = load_part(part)
    g = golden.fixed_graph(model, calib, act_bits, weight_bits, rounding, overflow, overrides,
                          ternary_method, per_channel, bias_correction)
    golden.check_io_widths(g)
    hl = HlsLayers(g, reuse, khot_max)
    calls, clones = hl.calls()
    x = golden.test_inputs(g, calib, n_test)
    x_raw, y_raw = golden.golden_raw(g, x)
    ctx = {"name": name, "part": fpga.part, "source": g.name,
           "n_input": g.tensors[g.inputs[0]].size, "n_output": g.tensors[g.outputs[0]].size}
    tpl = "hls/project/"
    with staged_dir(out_dir) as d:
        fw = d / "firmware"
        (fw / "weights").mkdir(parents=True)
        shutil.copytree(resources.templates() / "hls" / "nnet", fw / "nnet")
        shutil.copytree(resources.templates() / "hls" / "ap_types", fw / "ap_types")
        (fw / "defines.h").write_text(render(tpl + "defines.h.j2", typedefs=hl.typedefs(), **ctx))
        (fw / "parameters.h").write_text(render(tpl + "parameters.h.j2", layers=hl.layers, **ctx))
        for w in hl.weights:
            (fw / "weights" / f"{w['var']}.h").write_text(render(
                tpl + "weights.h.j2", what=w["what"], node=w["node"], count=w["raw"].size, ctype=w["ctype"],
                var=w["var"], values=literal_list(w["raw"], w["fixed"])))
        (fw / f"{name}.h").write_text(render(tpl + "top.h.j2", **ctx))
        (fw / f"{name}.cpp").write_text(render(tpl + "top.cpp.j2", layers=hl.layers, calls=calls,
                                               arrays=hl.arrays() + clones, final_var=hl.final_var, **ctx))
        (d / "tb").mkdir()
        (d / "tb" / f"{name}_test.cpp").write_text(render(
            tpl + "testbench.cpp.j2", in_frac=g.tensors[g.inputs[0]].meta["fixed"].frac,
            out_frac=g.tensors[g.outputs[0]].meta["fixed"].frac, **ctx))
        (d / "tb_data").mkdir()
        golden.write_raw(d / "tb_data" / "tb_input_raw.dat", x_raw)
        golden.write_raw(d / "tb_data" / "tb_output_raw.dat", y_raw)
        (d / "build_prj.tcl").write_text(render(tpl + "build_prj.tcl.j2", part_name=fpga.name,
                                                family=fpga.family, clock_ns=round(1000 / fpga.clock_mhz, 3), **ctx))
        golden.write_model_files(d, g, "hls", {"project": name, "part": fpga.name, "reuse": reuse,
                                                  "khot": hl.khot})
    return Path(out_dir)
