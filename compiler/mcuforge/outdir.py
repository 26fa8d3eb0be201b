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


@contextlib.contextmanager
def staged_dir(out_dir):
    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        (tmp / OWNER).write_text(f"{os.getpid()}\n")
        yield tmp
        (tmp / OWNER).unlink()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
