"""What the optimized kernels compile to: every kernel builds warning-free for the cores that use it,
and the instructions each variant exists for are really there (the issue's "check the disassembly":
SXTB16 with the rotation folded in, SMLAD, Helium dot products with tail predication, no 64-bit
library multiply on the M0)."""
from __future__ import annotations

import re
import subprocess

import pytest

from mcuforge.resources import runtime_c
from mcuforge.sim import toolchain
from mcuforge.targets import load_core

KERNELS = runtime_c() / "kernels"
CFLAGS = ["-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-ffunction-sections", "-c"]


def cores_for(src: str) -> list[str]:
    if "_dsp" in src:
        return ["cortex-m4", "cortex-m7", "cortex-m33"]
    if "_mve" in src:
        return ["cortex-m55"]
    return ["cortex-m0", "cortex-m3", "cortex-m4", "cortex-m55"]


def compile_kernel(src: str, core: str, tmp_path) -> str:
    """Compile one kernel for `core`; return `objdump -d -r` of the object."""
    cc = toolchain.compiler_for(load_core(core).cc)
    obj = tmp_path / f"{src}.{core}.o"
    cmd = [str(cc), *load_core(core).cflags, *CFLAGS, f"-I{runtime_c() / 'include'}", str(KERNELS / src), "-o", str(obj)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, f"{src} for {core}:\n{res.stderr}"
    objdump = toolchain.arm_binutil("objdump")
    arch = ["-m", "armv8.1-m.main"] if core == "cortex-m55" else []   # else MVE shows as raw words
    return subprocess.run([str(objdump), "-d", "-r", *arch, str(obj)], capture_output=True, text=True,
                          check=True).stdout


def function_body(text: str, name: str) -> str:
    m = re.search(rf"^[0-9a-f]+ <{name}>:\n(.*?)(?=^[0-9a-f]+ <|\Z)", text, re.S | re.M)
    assert m, f"no function {name} in the object"
    return m.group(1)


@pytest.fixture(scope="module")
def _arm():
    toolchain.find_tool(toolchain.ARM_GCC)


def test_every_kernel_compiles_warning_free_for_its_cores(tmp_path, _arm):
    sources = sorted(p.name for p in KERNELS.glob("mcf_*.c"))
    assert any("_dsp" in s for s in sources) and any("_mve" in s for s in sources)
    for src in sources:
        for core in cores_for(src):
            compile_kernel(src, core, tmp_path)


@pytest.mark.parametrize("src, core, patterns", [
    # widening 4 int8 with SXTB16 and SXTB16 ROR 8, then two MACs per SMLAD
    ("mcf_conv2d_s8_dsp.c", "cortex-m4", [r"\ssxtb16\s+\w+, \w+, ror #8", r"\ssmlad\s"]),
    ("mcf_depthwise_conv2d_s8_dsp3x3.c", "cortex-m4", [r"\ssmlad\s"]),
    ("mcf_depthwise_conv2d_s8_dsp.c", "cortex-m4", [r"\ssmlad\s"]),
    ("mcf_maxpool_s8_dsp.c", "cortex-m4", [r"\sssub8\s", r"\ssel\s"]),
    ("mcf_avgpool_s8_dsp.c", "cortex-m4", [r"\ssxta?b16\s"]),
    # Helium: int8 dot products across lanes and tail-predicated loads
    # (objdump prints VMLADAVA as its alias VMLAVA)
    ("mcf_conv2d_s8_mve.c", "cortex-m55", [r"\svmla(d)?va\.s8\s", r"\svctp\.8\s"]),
    ("mcf_fully_connected_s8_mve.c", "cortex-m55", [r"\svmla(d)?va\.s8\s"]),
    ("mcf_add_s8_mve.c", "cortex-m55", [r"\svqrdmulh\.s32\s"]),
    ("mcf_maxpool_s8_mve.c", "cortex-m55", [r"\svmax\.s8\s"]),
])
def test_variant_uses_its_instructions(tmp_path, _arm, src, core, patterns):
    text = compile_kernel(src, core, tmp_path)
    for pat in patterns:
        assert re.search(pat, text), f"{src} on {core}: no match for {pat!r} in the disassembly"


@pytest.mark.parametrize("src, fast_path", [("mcf_conv2d_s8_fast.c", "gemm_fast"),
                                            ("mcf_depthwise_conv2d_s8_fast.c", "dw3_fast")])
def test_m0_fast_paths_avoid_the_64_bit_library_multiply(tmp_path, _arm, src, fast_path):
    # ARMv6-M has no 32x32->64 multiply; a call to __aeabi_lmul per output was the M0 kernels' cost.
    # (Only the fallback for channels outside the fast requantization's bounds may still call it.)
    body = function_body(compile_kernel(src, "cortex-m0", tmp_path), fast_path)
    assert "__aeabi_l" not in body
    assert re.search(r"\smuls\s", body)
