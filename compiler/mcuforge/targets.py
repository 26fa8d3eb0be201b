"""Cores and boards described by the TOML files in targets/cores/ and targets/boards/.

A *core* says how to compile (compiler, flags) and what the hardware can do (``features``:
``dsp``, ``fpu``, ``fpu_dp``, ``mve``, ``mve_fp``), which is what kernel selection looks at.
A *board* is a core plus a place to run it: the QEMU machine, the memory map the linker script
is filled from, and the clock that converts SysTick ticks into executed instructions.

    >>> load_core("cortex-m4").features
    ('dsp', 'fpu')
    >>> load_board("mps2-an386").qemu_machine
    'mps2-an386'
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .errors import McuforgeError
from .resources import targets

KNOWN_FEATURES = frozenset({"dsp", "fpu", "fpu_dp", "mve", "mve_fp"})
BOARD_KINDS = ("qemu", "host")


@dataclass(frozen=True)
class Core:
    name: str
    arch: str  # "armv7e-m", ... or "host"
    cc: str  # compiler executable name, e.g. "arm-none-eabi-gcc" or "gcc"
    cflags: tuple[str, ...]  # -mcpu/-mthumb/-mfloat-abi/-mfpu; used for compiling and linking
    features: tuple[str, ...]
    description: str = ""

    def has(self, feature: str) -> bool:
        return feature in self.features

    @property
    def is_host(self) -> bool:
        return self.arch == "host"


@dataclass(frozen=True)
class Board:
    name: str
    core: Core
    kind: str  # "qemu" or "host"
    description: str = ""
    qemu_machine: str | None = None
    clock_hz: int | None = None  # SysTick (processor) clock
    flash_origin: int | None = None
    flash_size: int | None = None
    ram_origin: int | None = None
    ram_size: int | None = None

    @property
    def is_host(self) -> bool:
        return self.kind == "host"

    @property
    def ns_per_tick(self) -> float | None:
        """Instructions per SysTick tick under ``-icount shift=0`` (1 instruction = 1 ns)."""
        return None if self.clock_hz is None else 1e9 / self.clock_hz


def _names(folder: str) -> list[str]:
    return sorted(p.stem for p in (targets() / folder).glob("*.toml"))


def list_cores() -> list[str]:
    return _names("cores")


def list_boards() -> list[str]:
    return _names("boards")


def _read(folder: str, name: str, what: str) -> dict:
    valid = _names(folder)
    if name not in valid:
        raise McuforgeError(f"unknown {what} {name!r}; valid {what}s: {', '.join(valid)}")
    path: Path = targets() / folder / f"{name}.toml"
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise McuforgeError(f"{path}: invalid TOML: {exc}") from exc


def _require(data: dict, key: str, path: str):
    if key not in data:
        raise McuforgeError(f"{path}: missing key {key!r}")
    return data[key]


@cache
def load_core(name: str) -> Core:
    data = _read("cores", name, "core")
    where = f"targets/cores/{name}.toml"
    features = tuple(_require(data, "features", where))
    unknown = set(features) - KNOWN_FEATURES
    if unknown:
        raise McuforgeError(f"{where}: unknown features {sorted(unknown)}; known: {sorted(KNOWN_FEATURES)}")
    return Core(
        name=name,
        arch=_require(data, "arch", where),
        cc=_require(data, "cc", where),
        cflags=tuple(_require(data, "cflags", where)),
        features=features,
        description=data.get("description", ""),
    )


@cache
def load_board(name: str) -> Board:
    data = _read("boards", name, "board")
    where = f"targets/boards/{name}.toml"
    kind = _require(data, "kind", where)
    if kind not in BOARD_KINDS:
        raise McuforgeError(f"{where}: kind must be one of {BOARD_KINDS}, not {kind!r}")
    core = load_core(_require(data, "core", where))
    fields = dict(name=name, core=core, kind=kind, description=data.get("description", ""))
    if kind == "qemu":
        mem = _require(data, "memory", where)
        fields.update(
            qemu_machine=_require(data, "qemu_machine", where),
            clock_hz=int(_require(data, "clock_hz", where)),
            flash_origin=int(_require(mem, "flash_origin", where)),
            flash_size=int(_require(mem, "flash_size", where)),
            ram_origin=int(_require(mem, "ram_origin", where)),
            ram_size=int(_require(mem, "ram_size", where)),
        )
    return Board(**fields)


def as_board(board: Board | str) -> Board:
    """Accept a Board or a board name."""
    return board if isinstance(board, Board) else load_board(board)


def boards_for_core(core: str) -> list[str]:
    """Boards whose core is `core` (e.g. to pick a simulator for ``--target cortex-m4``)."""
    load_core(core)  # validates the name
    return [b for b in list_boards() if load_board(b).core.name == core]
