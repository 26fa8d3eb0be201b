"""Any core: the int8 multiply of an SE block (x * gate, the gate one value per channel or per
row) walks rows of the gate instead of the general broadcast odometer (mcf_mul_s8_gate.c)."""
from __future__ import annotations

from ..kernel_select import Variant, register_variant


def _contiguous(shape) -> list[int]:
    st, acc = [0] * len(shape), 1
    for d in range(len(shape) - 1, -1, -1):
        st[d] = acc
        acc *= shape[d]
    return st


def gate_layout(bc: dict) -> str | None:
    """'b' if input 2 is a gate repeated over input 1, 'a' for the mirror case, else None. On the
    dims of size > 1 the full operand has contiguous strides and the gate 0 on a leading run (at
    least one dim), contiguous strides after it (dims of size 1 do not matter)."""
    if bc["same_shape"]:
        return None
    shape = bc["out_shape"]
    full = _contiguous(shape)
    dims = [d for d in range(len(shape)) if shape[d] > 1]
    for side, this, other in (("b", bc["b_strides"], bc["a_strides"]), ("a", bc["a_strides"], bc["b_strides"])):
        if any(other[d] != full[d] for d in dims):
            continue
        zeros = [d for d in dims if this[d] == 0]
        rest = [d for d in dims if this[d] != 0]
        if zeros and zeros == dims[:len(zeros)] and all(this[d] == full[d] for d in rest):
            return side
    return None


def _accepts(params: dict) -> bool:
    return gate_layout(params["bc"]) is not None


register_variant("mcf_mul_s8", Variant(
    function="mcf_mul_s8_gate", sources=("mcf_mul_s8_gate.c",), accepts=_accepts))
