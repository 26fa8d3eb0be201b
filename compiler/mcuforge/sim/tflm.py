"""TFLite Micro's host interpreter (PyPI `tflite-micro`) as the outside oracle for .tflite models:
run a model on inputs, and find its smallest working tensor arena by bisection."""
from __future__ import annotations

import numpy as np

from ..errors import McuforgeError


def _runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        raise McuforgeError("the TFLite Micro reference needs `pip install tflite-micro`") from None
    return runtime


class TflmModel:
    """One interpreter, reused across inputs (its state is reset by each full invoke)."""

    def __init__(self, model: bytes, arena_size: int | None = None):
        self.model = bytes(model)
        size = arena_size or max(1 << 16, 8 * len(self.model))
        self.interp = _runtime().Interpreter.from_bytes(self.model, arena_size=size)
        import tflite
        sg = tflite.Model.GetRootAsModel(self.model, 0).Subgraphs(0)
        self.n_inputs, self.n_outputs = sg.InputsLength(), sg.OutputsLength()

    def run(self, *inputs: np.ndarray) -> list[np.ndarray]:
        for k, x in enumerate(inputs):
            d = self.interp.get_input_details(k)
            self.interp.set_input(np.asarray(x, d["dtype"]).reshape(d["shape"]), k)
        self.interp.invoke()
        return [np.array(self.interp.get_output(k)) for k in range(self.n_outputs)]


def run_tflm(model: bytes, *inputs: np.ndarray, arena_size: int | None = None) -> list[np.ndarray]:
    return TflmModel(model, arena_size).run(*inputs)


def _works(model: bytes, size: int, x: list[np.ndarray]) -> bool:
    try:
        TflmModel(model, size).run(*x)
        return True
    except Exception:  # allocation failure surfaces as RuntimeError (or a generic error)
        return False


def smallest_arena(model: bytes, inputs: list[np.ndarray], lo: int = 256, hi: int = 1 << 22,
                   step: int = 16) -> int:
    """Smallest arena_size (to `step` bytes) with which the interpreter allocates and invokes."""
    if not _works(model, hi, inputs):
        raise McuforgeError(f"TFLite Micro cannot run this model even with a {hi}-byte arena")
    while hi - lo > step:
        mid = (lo + hi) // 2
        if _works(model, mid, inputs):
            hi = mid
        else:
            lo = mid
    return hi
