"""Finds the data folders (runtime_c/, templates/, targets/) in a checkout or an installed wheel."""
from functools import cache
from pathlib import Path

_PKG = Path(__file__).resolve().parent


@cache
def _root(name: str) -> Path:
    for candidate in (_PKG / "_data" / name, _PKG.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"mcuforge data folder {name!r} not found beside {_PKG}")


def runtime_c() -> Path:
    return _root("runtime_c")


def templates() -> Path:
    return _root("templates")


def targets() -> Path:
    return _root("targets")
