"""Locates the external tools the simulators need, with an install hint when one is missing.

Each tool can be overridden by an environment variable holding a path or a command name
(MCUFORGE_ARM_GCC, MCUFORGE_HOST_GCC, MCUFORGE_QEMU_ARM). The arm binutils (size, objdump)
are taken from the same directory as arm-none-eabi-gcc.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

from ..errors import McuforgeError

ARM_GCC = "arm-none-eabi-gcc"
HOST_GCC = "gcc"
QEMU_ARM = "qemu-system-arm"

# Debian/Ubuntu packages that provide each tool.
_PACKAGES = {
    ARM_GCC: ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi"),
    "newlib": ("libnewlib-arm-none-eabi",),
    HOST_GCC: ("gcc",),
    QEMU_ARM: ("qemu-system-arm",),
}
_ENV = {ARM_GCC: "MCUFORGE_ARM_GCC", HOST_GCC: "MCUFORGE_HOST_GCC", QEMU_ARM: "MCUFORGE_QEMU_ARM"}


def install_command(tool: str) -> str:
    """The one-line command that installs `tool` on Debian/Ubuntu."""
    packages = " ".join(_PACKAGES[tool])
    return f"sudo apt-get install -y --no-install-recommends {packages}"


def _missing(tool: str, detail: str = "") -> McuforgeError:
    what = f"{tool} not found on PATH" if not detail else detail
    return McuforgeError(f"{what}; install it with: {install_command(tool)}")


def find_tool(tool: str) -> Path:
    """Absolute path of `tool` (one of ARM_GCC, HOST_GCC, QEMU_ARM) or McuforgeError."""
    wanted = os.environ.get(_ENV.get(tool, ""), "") or tool
    found = shutil.which(wanted)
    if found is None:
        raise _missing(tool)
    return Path(found)


def arm_gcc() -> Path:
    """arm-none-eabi-gcc, checked to have newlib (nano.specs) next to it."""
    gcc = find_tool(ARM_GCC)
    _check_newlib(str(gcc))
    return gcc


@cache
def _check_newlib(gcc: str) -> None:
    try:
        out = subprocess.run([gcc, "-print-file-name=nano.specs"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise McuforgeError(f"{gcc} does not run ({exc}); install it with: {install_command(ARM_GCC)}") from exc
    if not os.path.isabs(out) or not os.path.exists(out):
        raise _missing("newlib", f"newlib for {ARM_GCC} (nano.specs) not found")


def arm_binutil(name: str) -> Path:
    """arm-none-eabi-<name> (size, objdump, nm) from the directory of arm-none-eabi-gcc."""
    gcc = find_tool(ARM_GCC)
    candidate = gcc.parent / f"arm-none-eabi-{name}"
    if candidate.exists():
        return candidate
    found = shutil.which(f"arm-none-eabi-{name}")
    if found is None:
        raise _missing(ARM_GCC, f"arm-none-eabi-{name} not found on PATH")
    return Path(found)


def host_gcc() -> Path:
    return find_tool(HOST_GCC)


def qemu_arm() -> Path:
    return find_tool(QEMU_ARM)


def compiler_for(core_cc: str) -> Path:
    """The compiler named by a core TOML's `cc` key."""
    if core_cc == ARM_GCC:
        return arm_gcc()
    if core_cc == HOST_GCC:
        return host_gcc()
    found = shutil.which(core_cc)
    if found is None:
        raise McuforgeError(f"compiler {core_cc!r} not found on PATH")
    return Path(found)
