"""Input and output planned inside the arena (TFLite Micro's layout) and the zero-copy API.

The oracle is tflite-micro: a C main of our own that writes the sample through
<prefix>_input(), calls <prefix>_invoke() and reads <prefix>_output(), on the host, gives its
bytes; the generated <prefix>_run (copying) is covered on QEMU by test_tflite_c_parity.py, which
compiles with the default (I/O in the arena for int8 models). Also: the DSP depthwise kernel's
exact in-place rule proven on one shared byte array, and the min-arena kernel choice byte-exact
on the Cortex-M4."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from mcuforge.api import compile_model, read_info, simulate
from mcuforge.errors import McuforgeError
from mcuforge.frontend.tflite import load_tflite
from mcuforge.schedule.lifetimes import lifetimes
from mcuforge.schedule.memory import plan_memory
from mcuforge.sim import toolchain
from mcuforge.sim.tflm import TflmModel

from mlperf_data import model_path
from test_tflite_frontend import int8_inputs

ZERO_COPY_MAIN = r"""
#include <stdio.h>
#include <string.h>
#include "%(p)s.h"
int main(int argc, char **argv)
{
    static int8_t x[%(P)s_INPUT_SIZE];
    FILE *f = fopen(argv[1], "rb");
    FILE *o = fopen(argv[2], "wb");
    while (fread(x, 1, sizeof(x), f) == sizeof(x)) {
        memcpy(%(p)s_input(), x, sizeof(x));
        if (%(p)s_invoke() != 0) return 2;
        fwrite(%(p)s_output(), 1, %(P)s_OUTPUT_SIZE, o);
    }
    fclose(f);
    fclose(o);
    return 0;
}
"""


def _host_build(out, main_src):
    info = read_info(out)
    p = info["prefix"]
    (out / "zc_main.c").write_text(main_src % {"p": p, "P": p.upper()})
    srcs = [out / f"{p}.c", out / f"{p}_weights.c", out / "zc_main.c"]
    srcs += [out / "mcuforge_runtime" / "kernels" / s for s in info["runtime_sources"]]
    exe = out / "zc"
    try:
        gcc = str(toolchain.find_tool(toolchain.HOST_GCC))
    except McuforgeError as e:
        pytest.skip(str(e))
    subprocess.run([gcc, "-std=c99", "-O2", "-Wall", "-Werror", "-I", str(out),
                    "-I", str(out / "mcuforge_runtime" / "include"), *map(str, srcs), "-o", str(exe), "-lm"],
                   check=True, capture_output=True)
    return exe


@pytest.mark.parametrize("name", ["kws_dscnn_int8", "ic_resnet8_int8"])
def test_zero_copy_api_on_host_matches_tflm(tmp_path, name):
    out = tmp_path / name
    r = compile_model(model_path(name), out, target="host", quiet=True)
    assert r.info["io_in_arena"] and r.info["io_bytes"] == 0
    exe = _host_build(out, ZERO_COPY_MAIN)
    shape = r.graph.tensors[r.graph.inputs[0]].shape
    xs = int8_inputs(shape, 4)
    (tmp_path / "x.bin").write_bytes(np.stack(xs).tobytes())
    subprocess.run([str(exe), str(tmp_path / "x.bin"), str(tmp_path / "y.bin")], check=True)
    y = np.frombuffer((tmp_path / "y.bin").read_bytes(), np.int8).reshape(len(xs), -1)
    ref = TflmModel(model_path(name).read_bytes())
    want = np.stack([ref.run(x)[0].reshape(-1) for x in xs])
    assert np.array_equal(y, want)


def test_caller_io_keeps_the_old_api(tmp_path):
    r = compile_model(model_path("kws_dscnn_int8"), tmp_path / "k", target="host", quiet=True, io_in_arena=False)
    h = (tmp_path / "k" / f"{r.info['prefix']}.h").read_text()
    assert not r.info["io_in_arena"] and r.info["io_bytes"] > 0
    assert "_invoke(void)" not in h and "_run(const int8_t *in, int8_t *out)" in h


@pytest.mark.parametrize("name", ["kws_dscnn_int8", "vww_mbv1_96_int8", "ad_fcae_int8"])
def test_input_bytes_are_reused(name):
    """In the arena the input dies after its last reader: the plan is smaller than the
    caller-buffer plan plus the I/O buffers, and the input and output are arena tensors."""
    g = load_tflite(model_path(name))
    io = sum(g.tensors[t].nbytes for t in g.inputs + g.outputs)
    _, caller = plan_memory(g)
    order, inside = plan_memory(g, io_in_arena=True)
    assert set(g.inputs + g.outputs) <= set(inside.offsets)
    lt = {x.tensor: x for x in lifetimes(g, order, io_in_arena=True)}
    assert lt[g.outputs[0]].last == len(order) - 1 and lt[g.inputs[0]].first == 0
    assert inside.size < caller.size + io


def _channel_major_dw_in_place(x, k, stride, pad, shift):
    """The DSP depthwise kernel's order (all of input channel c into a plane, then output channel
    c of every pixel) on one array where the output starts `shift` bytes below the input."""
    h, w, c = x.shape
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    wts = np.random.default_rng(3).integers(-3, 4, (c, k, k))
    mem = np.zeros(shift + x.size + oh * ow * c, np.int64)
    mem[shift:shift + x.size] = x.reshape(-1)
    for ch in range(c):
        plane = np.pad(mem[shift:shift + x.size].reshape(h, w, c)[:, :, ch].copy(), pad)
        for oy in range(oh):
            for ox in range(ow):
                win = plane[oy * stride:oy * stride + k, ox * stride:ox * stride + k]
                mem[(oy * ow + ox) * c + ch] = int((win * wts[ch]).sum())
    ref = np.zeros((oh, ow, c), np.int64)
    xp = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    for oy in range(oh):
        for ox in range(ow):
            win = xp[oy * stride:oy * stride + k, ox * stride:ox * stride + k]
            ref[oy, ox] = (win * wts.transpose(1, 2, 0)).sum(axis=(0, 1))
    return ref, mem[:oh * ow * c].reshape(oh, ow, c)


@pytest.mark.parametrize("stride", [1, 2])
def test_channel_major_depthwise_exact_alias_is_safe(stride):
    x = np.random.default_rng(2).integers(-50, 50, (6, 7, 4))
    ref, got = _channel_major_dw_in_place(x, 3, stride, 1, 0)
    assert np.array_equal(ref, got)
    # and why "exact": a shift that is not a whole number of pixels breaks it
    ref, got = _channel_major_dw_in_place(x, 3, stride, 1, 2)
    assert not np.array_equal(ref, got)


def test_dsp_depthwise_in_place_exact_saves_arena_on_vww(monkeypatch):
    """vww on the M4: the DSP depthwise layers may write over their input (at the same offset
    only), which gives a smaller arena than keeping their outputs aside (the old "unsafe")."""
    from mcuforge.codegen.c import kernel_plan
    from mcuforge.codegen.c.emit import lower_to_c
    from mcuforge.targets import load_core

    def build():
        g = load_tflite(model_path("vww_mbv1_96_int8"))
        return lower_to_c(g, load_core("cortex-m4").features, io_in_arena=True)
    cm = build()
    dw = [l for l in cm.layers if l.kernel.startswith("mcf_depthwise_conv2d_s8_dsp")]
    sizes = {lt.tensor: lt.size for lt in cm.plan.lifetimes}
    shared = 0
    for l in dw:
        a, b = l.outputs[0], l.inputs[0]
        if a.offset < b.offset + sizes[b.name] and b.offset < a.offset + sizes[a.name]:
            assert a.offset == b.offset
            shared += 1
    real = kernel_plan.kernel_overlaps
    monkeypatch.setattr(kernel_plan, "kernel_overlaps",
                        lambda ovs, layers: [ov for ov in real(ovs, layers) if not ov.exact])
    aside = build()
    assert dw and shared and cm.plan.size < aside.plan.size


TFLM_ARENA = {"kws_dscnn_int8": 24286, "ic_resnet8_int8": 55996, "vww_mbv1_96_int8": 103673,
              "ad_fcae_int8": 4639}


@pytest.mark.parametrize("name", ["ic_resnet8_int8", "ad_fcae_int8"])
def test_arena_budget_0_6_tflm_bit_exact_on_m4(tmp_path, name):
    """The two models whose fastest kernels' scratch puts them above 0.6x TFLite Micro's arena
    fit it with a budget, which swaps the kernels at the peak step only (lean DSP variants; for a
    fully connected layer first the scratch-free one)."""
    try:
        toolchain.qemu_arm()
        toolchain.arm_gcc()
    except McuforgeError as e:
        pytest.skip(f"no Cortex-M toolchain/QEMU here: {e}")
    budget = int(0.6 * TFLM_ARENA[name])
    r = compile_model(model_path(name), tmp_path / name, target="cortex-m4", quiet=True, arena_budget=budget)
    assert r.info["arena_bytes"] + r.info["io_bytes"] <= budget
    kernels = [l.get("kernel") for l in r.info["layers"] if l.get("kernel")]
    assert any(k.endswith(("_dsp_lean", "_dsp_row")) for k in kernels) and any(k.endswith("_dsp") for k in kernels)
    shape = r.graph.tensors[r.graph.inputs[0]].shape
    xs = int8_inputs(shape, 2)
    y, _ = simulate(tmp_path / name, "mps2-an386", np.stack(xs), quiet=True)
    ref = TflmModel(model_path(name).read_bytes())
    assert np.array_equal(y.reshape(len(xs), -1), np.stack([ref.run(x)[0].reshape(-1) for x in xs]))


def test_cli_flags(tmp_path):
    """--no-io-in-arena keeps caller buffers; --arena-budget reaches model.json and the plan."""
    import json

    from mcuforge.cli import main
    src = str(model_path("ad_fcae_int8"))
    assert main(["compile", src, "-o", str(tmp_path / "a"), "--no-io-in-arena", "--no-report"]) == 0
    a = json.loads((tmp_path / "a" / "model.json").read_text())
    assert not a["io_in_arena"] and a["io_bytes"] == 1280
    assert main(["compile", src, "-o", str(tmp_path / "b"), "--arena-budget", "2783", "--no-report"]) == 0
    b = json.loads((tmp_path / "b" / "model.json").read_text())
    assert b["io_in_arena"] and b["io_bytes"] == 0 and b["arena_bytes"] <= 2783 and b["arena_budget"] == 2783


@pytest.mark.parametrize("name", list(TFLM_ARENA))
def test_in_arena_tensor_plan_within_0_6_tflm(name):
    """Tensors alone (input and output included, as in TFLite Micro's arena) fit 0.6x its arena
    on every model; on ic what is left for kernel scratch at the residual peak is 285 bytes,
    less than the DSP convolution's two int16 columns, hence the budget test above."""
    g = load_tflite(model_path(name))
    _, plan = plan_memory(g, io_in_arena=True)
    assert plan.size <= 0.6 * TFLM_ARENA[name]
