"""`mcuforge rtl`: synthesizable Verilog of the fixed-point model and a Verilator testbench.

    RTL/rtl/<name>.v           top: streams and layer instances
    RTL/rtl/<name>_l<i>.v      one module per layer (templates/rtl/*.v.j2)
    RTL/rtl/mcf_stream_*.v     FIFO and fork (templates/rtl/lib)
    RTL/tb/tb_<name>.cpp       Verilator testbench (random gaps and back-pressure)
    RTL/tb_data/               golden vectors
    RTL/graph.json, graph.npz  the exact fixed-point model (simulate --board reference)
    RTL/model.json             {"backend": "rtl", "mac_units": ..., "macs": ..., ...}
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ... import resources
from ...errors import McuforgeError
from ..fpga import golden
from ..fpga.khot import KHOT_MAX
from ..fpga.output_dir import staged_dir
from ..jinja import render
from .layers import RtlDesign, sconst

N_TEST_FRAMES = 8


def write_rtl_project(model, out_dir, calib=None, reuse: int = 1, act_bits: int = 16,
                      weight_bits: int = 8, rounding: str = "rnd", overflow: str = "sat",
                      name: str = "mcf_accel", overrides=None, n_test: int = N_TEST_FRAMES,
                      balance: bool = True, khot_max: int = KHOT_MAX,
                      ternary_method: str = "absmean", per_channel: bool = True,
                      bias_correction: bool = True) -> Path:
    """`khot_max`: layers whose weights are all sums of at most this many signed powers of two get
    shift-add products instead of multipliers (0: never). weight_bits 4 / 2: sub-byte layers
    (int4 on 4-bit multiplier operands, ternary as add / subtract; quant/fixed.py)."""
    if reuse < 1:
        raise McuforgeError(f"reuse factor must be at least 1, not {reuse}")
    g = golden.fixed_graph(model, calib, act_bits, weight_bits, rounding, overflow, overrides,
                          ternary_method, per_channel, bias_correction)
    golden.check_io_widths(g)
    design = RtlDesign(g, reuse, name, balance, khot_max)
    x = golden.test_inputs(g, calib, n_test)
    x_raw, y_raw = golden.golden_raw(g, x)
    with staged_dir(out_dir) as d:
        rtl = d / "rtl"
        rtl.mkdir()
        for f in (resources.templates() / "rtl" / "lib").glob("*.v"):
            shutil.copy(f, rtl / f.name)
        for layer in design.layers:
            (rtl / f"{layer.module}.v").write_text(render(layer.template, **layer.ctx))
        (rtl / f"{name}.v").write_text(render(
            "rtl/top.v.j2", name=name, source=g.name, layers=design.layers, reuse=reuse,
            mac_units=design.mac_units, frame_cycles=design.frame_cycles, balanced=balance,
            streams=design.streams, instances=design.instances,
            input_stream=design.input_stream, output_stream=design.output_stream,
            in_w=g.tensors[g.inputs[0]].meta["fixed"].width, out_w=g.tensors[g.outputs[0]].meta["fixed"].width,
            sconst=sconst))
        (d / "tb").mkdir()
        (d / "tb" / f"tb_{name}.cpp").write_text(render(
            "rtl/testbench.cpp.j2", name=name, n_in=g.tensors[g.inputs[0]].size,
            n_out=g.tensors[g.outputs[0]].size, out_w=g.tensors[g.outputs[0]].meta["fixed"].width))
        (d / "tb_data").mkdir()
        golden.write_raw(d / "tb_data" / "tb_input_raw.dat", x_raw)
        golden.write_raw(d / "tb_data" / "tb_output_raw.dat", y_raw)
        golden.write_model_files(d, g, "rtl", {
            "top": name, "reuse": reuse, "balanced": balance, "frame_cycles": design.frame_cycles,
            "macs": design.macs, "mac_units": design.mac_units, "latency_bound": design.latency_bound(),
            "khot": design.khot,
            "layers": [{"module": l.module, "node": l.ctx["node"], "macs": l.macs, "lanes": l.mac_units,
                        "cycles": l.cycles} for l in design.layers]})
    return Path(out_dir)
