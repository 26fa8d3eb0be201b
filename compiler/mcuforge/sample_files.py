"""Reading user arrays (calibration samples, class labels) from .npy / .npz files with one-line
errors: a missing file, a file that is not NumPy's format, a truncated one, object arrays (never
unpickled), empty arrays, non-numbers and NaN / infinity are each named, with what would work."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import McuforgeError

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK"   # .npz: a zip archive


def load_array_file(path, what: str = "samples"):
    """np.load(path) for a .npy (an ndarray) or .npz (an NpzFile), allow_pickle=False; any problem is
    a McuforgeError naming `what` and the file."""
    path = Path(path)
    if not path.is_file():
        raise McuforgeError(f"{what} {path} is a folder; give a .npy or .npz file" if path.is_dir()
                            else f"{what} file not found: {path}")
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as e:
        raise McuforgeError(f"cannot read {what} file {path}: {e.strerror or type(e).__name__}") from None
    if not (head.startswith(NPY_MAGIC) or head.startswith(ZIP_MAGIC)):
        raise McuforgeError(f"{what} file {path} is not a NumPy file (expected a .npy written by numpy.save "
                            f"or an .npz by numpy.savez)")
    try:
        loaded = np.load(path, allow_pickle=False)
        if hasattr(loaded, "files"):       # read every member now: a damaged .npz fails here, not later
            loaded = {k: loaded[k] for k in loaded.files}
    except Exception as e:  # noqa: BLE001 - numpy raises ValueError, OSError, EOFError, BadZipFile...
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "allow_pickle" in msg or "pickled" in msg:
            msg = "it holds Python objects (save plain numeric arrays)"
        raise McuforgeError(f"cannot read {what} file {path}: {msg}") from None
    return loaded


def check_real_array(arr, what: str) -> np.ndarray:
    """A non-empty array of finite real numbers (float, int or uint), else a McuforgeError."""
    arr = np.asarray(arr)
    if arr.dtype.kind not in "fiu" or arr.size == 0:
        raise McuforgeError(f"{what}: {arr.dtype} array of shape {arr.shape}; "
                            f"expected a non-empty array of real numbers")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise McuforgeError(f"{what} hold NaN or infinite values")
    return arr
