"""FPGA parts described by targets/fpga/*.toml: resources (LUT, FF, DSP, BRAM) and family."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass

from ...errors import McuforgeError
from ...resources import targets


@dataclass(frozen=True)
class FpgaPart:
    name: str
    part: str  # the full Vivado part string
    family: str
    yosys_family: str  # synth_xilinx -family
    clock_mhz: float
    luts: int
    ffs: int
    dsps: int
    bram36: int


def list_parts() -> list[str]:
    return sorted(p.stem for p in (targets() / "fpga").glob("*.toml"))


def load_part(name: str) -> FpgaPart:
    path = targets() / "fpga" / f"{name}.toml"
    if not path.is_file():
        raise McuforgeError(f"unknown FPGA part {name!r}; known parts: {', '.join(list_parts())}")
    d = tomllib.loads(path.read_text())
    return FpgaPart(**{k: d[k] for k in FpgaPart.__dataclass_fields__})
