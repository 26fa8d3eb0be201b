"""The one Jinja environment every backend uses, with filters for C literals."""
from __future__ import annotations

import math
from functools import cache

import jinja2
import numpy as np

from .. import resources


def c_float(x) -> str:
    x = float(x)
    if math.isinf(x):
        return "INFINITY" if x > 0 else "-INFINITY"
    if math.isnan(x):
        return "NAN"
    s = f"{x:.9g}"
    if "e" not in s and "." not in s:
        s += ".0"
    return s + "f"


def c_int(x) -> str:
    x = int(x)
    # INT32_MIN has no literal form in C
    return "(-2147483647 - 1)" if x == -(1 << 31) else str(x)


def c_values(arr, per_line: int = 16) -> str:
    """Comma-separated literals of a numeric array, `per_line` a line."""
    flat = np.asarray(arr).reshape(-1)
    fmt = c_float if flat.dtype.kind == "f" else c_int
    items = [fmt(v) for v in flat]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n    ".join(lines)


def c_list(values) -> str:
    """Brace initializer of a small int list."""
    return "{" + ", ".join(c_int(v) for v in values) + "}"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.templates())),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True)
    env.filters.update(c_float=c_float, c_int=c_int, c_values=c_values, c_list=c_list)
    return env


def render(template: str, **ctx) -> str:
    return environment().get_template(template).render(**ctx)
