"""Writing an output folder all at once: build in a sibling temporary folder, then swap it in,
so a failed build never leaves a half-written output behind (the C, HLS and RTL backends).

A compile killed outright (SIGKILL, power loss) cannot clean up after itself: its staging folder
`.<name>.XXXXXXXX` holds a file naming the process that owns it, and the next compile into the
same place removes staging folders whose owner is gone. SIGTERM is turned into an exception by
the CLI (see cli.main), so the normal clean-up runs."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from .errors import McuforgeError

OWNER = ".mcuforge-owner"
ORPHAN_AGE_S = 24 * 3600   # a staging folder without an owner file (killed before writing it)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_staging(out_dir: Path) -> list[Path]:
    """Staging folders of `out_dir` left by compiles that no longer run."""
    removed = []
    for p in out_dir.parent.glob(f".{out_dir.name}.*"):
        if not p.is_dir() or len(p.name) != len(out_dir.name) + 10:
            continue
        owner = p / OWNER
        try:
            pid = int(owner.read_text().split()[0])
            stale = not _alive(pid)
        except (OSError, ValueError, IndexError):
            try:
                stale = time.time() - p.stat().st_mtime > ORPHAN_AGE_S or not any(p.iterdir())
            except OSError:
                stale = False
        if stale:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _nearest_existing(p: Path) -> Path:
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_output_dir(out_dir, inputs=()) -> Path:
    """Refuse, before any work, an output path the build could not swap in or should not replace:
    an existing file, a folder holding one of the `inputs` (the model, its samples: replacing the
    folder would delete them), the current folder or one of its parents, a non-empty folder that
    mcuforge did not write (no model.json), or a place that cannot be written."""
    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise McuforgeError(f"output {out_dir} is an existing file; give a folder path (-o)")
    for p in inputs:
        if p is not None and isinstance(p, (str, os.PathLike)) and out in Path(p).resolve().parents:
            raise McuforgeError(f"output folder {out_dir} holds the input {p}, which replacing the folder "
                                f"would delete; give another -o")
    cwd = Path.cwd().resolve()
    if out == cwd or out in cwd.parents:
        raise McuforgeError(f"output folder {out_dir} is the current folder or one of its parents, which "
                            f"would be replaced; give a new folder (-o)")
    if out.is_dir() and not (out / "model.json").is_file() and any(p.name != OWNER for p in out.iterdir()):
        raise McuforgeError(f"output folder {out_dir} is not empty and was not written by mcuforge (no "
                            f"model.json); it would be replaced: give a new or empty folder (-o)")
    _check_writable(out, out_dir)
    return out


def _check_writable(out: Path, shown) -> None:
    base = _nearest_existing(out.parent)
    if not base.is_dir():
        raise McuforgeError(f"cannot create the output folder {shown}: {base} is a file, not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=f".{out.name}.", dir=base))
    except OSError as e:
        raise McuforgeError(f"cannot write the output folder {shown}: {base} is not writable "
                            f"({e.strerror or type(e).__name__})") from None


@contextlib.contextmanager
def staged_dir(out_dir):
    shown = out_dir
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise McuforgeError(f"output {shown} is an existing file; give a folder path")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(out_dir)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    except OSError as e:
        raise McuforgeError(f"cannot write the output folder {shown}: "
                            f"{e.strerror or type(e).__name__} ({e.filename or out_dir.parent})") from None
    try:
        (tmp / OWNER).write_text(f"{os.getpid()}\n")
        yield tmp
        (tmp / OWNER).unlink()
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        where = str(e.filename or "")
        if where and not (where.startswith(str(tmp)) or where.startswith(str(out_dir))):
            raise   # not about the output (the body's own business)
        # a full disk, a folder that cannot be replaced: one line, no staging folder left
        raise McuforgeError(f"cannot write the output folder {shown}: "
                            f"{e.strerror or type(e).__name__} ({where or out_dir})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
