"""Run one mutant through `mcuforge compile` in-process and classify the outcome.

Classes (the campaign's counts are per class):
  refused     McuforgeError with a one-line message, no output folder, no staging folder left
  accepted    compiled; the host library (ASan + UBSan, -fno-sanitize-recover, -Werror) builds,
              runs on extreme inputs (all -128 / all 127 / random) and equals the golden model
  internal    any other exception (a bug: the CLI would print "internal error")
  broken      compiled, but the library does not build or its run fails
  sanitizer   compiled, but ASan / UBSan report a finding
  mismatch    compiled, but host C != golden model
  leftover    a staging or output folder left behind by a refusal
  hang        compile took longer than the timeout, twice (the second time with 5x the time)
"""
from __future__ import annotations

import contextlib
import hashlib
import shutil
import signal
import subprocess
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
BAD = ("internal", "broken", "sanitizer", "mismatch", "leftover", "hang")


@dataclass
class Outcome:
    cls: str
    detail: str = ""
    desc: str = ""


@dataclass
class Campaign:
    counts: Counter = field(default_factory=Counter)
    bad: list = field(default_factory=list)

    def add(self, seed_name: str, o: Outcome):
        self.counts[o.cls] += 1
        if o.cls in BAD:
            self.bad.append((seed_name, o))

    def table(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: int):
    def handler(signum, frame):
        raise _Timeout()
    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# -- the host build, sanitized, with cached objects for the runtime -----------------------------
class HostBuilder:
    def __init__(self, cache_dir: Path, sanitize: bool = True):
        self.cache = Path(cache_dir)
        self.cache.mkdir(parents=True, exist_ok=True)
        self.flags = ["-O1", "-g", "-Wall", "-Wextra", "-Werror", "-std=c99"] + (SANITIZE if sanitize else [])
        self.link_flags = SANITIZE if sanitize else []

    def _obj(self, src: Path, includes: list[Path], defines: list[str], cache: bool = True,
             work: Path | None = None) -> Path:
        flags = self.flags
        if src.name.endswith("_weights.c"):
            # data only: ASan still puts red zones around every array, -O0 just compiles it faster
            flags = [f if f != "-O1" else "-O0" for f in flags]
        # the key: the source, every header it could include (by content, not by path), the flags
        headers = b"".join(h.read_bytes() for i in includes for h in sorted(Path(i).glob("*.h")))
        key = hashlib.sha1(src.read_bytes() + headers + " ".join(flags + defines).encode()).hexdigest()
        obj = (self.cache if cache else work) / f"{key}.o"
        if not obj.is_file():
            cmd = ["gcc", *flags, *defines, *(f"-I{i}" for i in includes), "-c", str(src), "-o", str(obj) + ".tmp"]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                raise BuildError(f"{src.name}: {first_error(p.stderr)}")
            Path(str(obj) + ".tmp").rename(obj)
        return obj

    def build(self, out_dir: Path, info: dict, work: Path) -> Path:
        from mcuforge.codegen.c.emit import write_test_main
        from mcuforge.resources import runtime_c
        prefix = info["prefix"]
        main = work / "test_main.c"
        write_test_main(prefix, info["inputs"], info["outputs"], main)
        includes = [out_dir, out_dir / "mcuforge_runtime" / "include", runtime_c() / "board"]
        defines = ['-DMCF_BOARD_NAME="host"', "-DMCF_BOARD_HOST=1"]
        own = [out_dir / f"{prefix}.c", out_dir / f"{prefix}_weights.c", main]
        shared = [runtime_c() / "board" / "board_host.c"]
        shared += [out_dir / "mcuforge_runtime" / "kernels" / s for s in info["runtime_sources"]]
        # the model's own files are new every time; the runtime's are shared by every mutant
        objs = [self._obj(s, includes, defines, cache=False, work=work) for s in own]
        objs += [self._obj(s, includes[1:], defines) for s in shared]  # the runtime never includes the model's header
        exe = work / "prog"
        p = subprocess.run(["gcc", *self.link_flags, *map(str, objs), "-lm", "-o", str(exe)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise BuildError(f"link: {first_error(p.stderr)}")
        return exe


class BuildError(Exception):
    pass


def first_error(log: str) -> str:
    for line in log.splitlines():
        if "error" in line or "runtime error" in line or "ERROR" in line:
            return line.strip()[:300]
    return (log.strip().splitlines() or ["(no output)"])[0][:300]


def extreme_inputs(info: dict, rng) -> list[np.ndarray]:
    """Device-layout batches: all -128, all 127, and one random sample (int8); for float inputs
    0, large positive, large negative and a normal sample."""
    xs = []
    for io in info["inputs"]:
        shape = tuple(io["shape"])
        if io["dtype"] == "int8":
            xs.append(np.stack([np.full(shape, -128, np.int8), np.full(shape, 127, np.int8),
                                rng.integers(-128, 128, shape).astype(np.int8)]))
        else:
            xs.append(np.stack([np.zeros(shape, np.float32), np.full(shape, 100.0, np.float32),
                                np.full(shape, -100.0, np.float32),
                                rng.standard_normal(shape).astype(np.float32)]))
    n = min(len(x) for x in xs)
    return [x[:n] for x in xs]


def run_host(exe: Path, info: dict, xs: list[np.ndarray], work: Path) -> tuple[int, str, list[np.ndarray] | None]:
    from mcuforge.ir.tensor import DTYPES
    run = work / "run"
    run.mkdir(exist_ok=True)
    n = len(xs[0])
    (run / "count.bin").write_bytes(np.uint32(n).tobytes())
    for i, x in enumerate(xs):
        (run / f"input{i}.bin").write_bytes(np.ascontiguousarray(x).tobytes())
    try:
        p = subprocess.run([str(exe)], cwd=run, capture_output=True, timeout=60,
                           env={"ASAN_OPTIONS": "detect_leaks=0", "UBSAN_OPTIONS": "print_stacktrace=1"})
    except subprocess.TimeoutExpired:
        return -1, "timeout", None
    err = p.stderr.decode(errors="replace")
    if p.returncode != 0:
        return p.returncode, err, None
    ys = []
    for i, io in enumerate(info["outputs"]):
        raw = (run / f"output{i}.bin").read_bytes()
        ys.append(np.frombuffer(raw, DTYPES[io["dtype"]]).reshape((n,) + tuple(io["shape"])))
    return 0, err, ys


def golden(out_dir: Path, xs: list[np.ndarray]) -> list[np.ndarray]:
    from mcuforge.ir.serialize import load_graph
    from mcuforge.reference.executor import Executor
    g = load_graph(out_dir / "graph.json", out_dir / "graph.npz")
    ex = Executor(g)
    ys = [[] for _ in g.outputs]
    with np.errstate(all="ignore"):
        for i in range(len(xs[0])):
            res = ex.run({name: x[i] for name, x in zip(g.inputs, xs)})
            for k, name in enumerate(g.outputs):
                ys[k].append(res[name])
    return [np.stack(y) for y in ys]


def check_library(out_dir: Path, info: dict, work: Path, builder: HostBuilder, rng) -> Outcome:
    try:
        exe = builder.build(out_dir, info, work)
    except BuildError as e:
        return Outcome("broken", f"build: {e}")
    xs = extreme_inputs(info, rng)
    rc, err, ys = run_host(exe, info, xs, work)
    if rc != 0:
        if "runtime error" in err or "Sanitizer" in err:
            return Outcome("sanitizer", first_error(err))
        return Outcome("broken", f"run exited {rc}: {first_error(err)}")
    ref = golden(out_dir, xs)
    for k, (a, b) in enumerate(zip(ys, ref)):
        if a.dtype.kind == "f":
            same = np.allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True)
        else:
            same = np.array_equal(a, b.astype(a.dtype))
        if not same:
            diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
            return Outcome("mismatch", f"output {k}: max |host - golden| = {np.nanmax(diff)}")
    return Outcome("accepted")


def compile_one(seed, data: bytes, side: dict, work: Path, rng, builder: HostBuilder | None,
                timeout: int = 60) -> Outcome:
    """Write the mutant into work/, compile it (int8, or float32 for half of the float ONNX
    mutants), and classify."""
    from mcuforge.api import compile_model
    from mcuforge.errors import McuforgeError
    work.mkdir(parents=True, exist_ok=True)
    model_dir = work / "model"
    model_dir.mkdir(exist_ok=True)
    (work / "outside.bin").write_bytes(b"\0" * 4096)  # a file a model may point at with ../
    path = model_dir / f"m{seed.suffix}"
    path.write_bytes(data)
    for rel, blob in side.items():
        (model_dir / rel).write_bytes(blob)
    out = work / "out" / "lib"
    quant, calib = "int8", None
    if seed.calib_shape is not None:
        if rng.random() < 0.3:
            quant = "float32"
        else:
            calib = rng.uniform(-1, 1, (8,) + tuple(seed.calib_shape[1:])).astype(np.float32)
    try:
        try:
            with time_limit(timeout):
                compile_model(path, out, target="host", quant=quant, calib=calib, quiet=True)
        except _Timeout:
            # a slow machine is not a hang: the same compile again, alone, with 5x the time; only a
            # compile that overruns that too is one (an MLPerf seed takes ~10 s idle, over 60 s under
            # a load of 10+)
            shutil.rmtree(work / "out", ignore_errors=True)
            with time_limit(5 * timeout):
                compile_model(path, out, target="host", quant=quant, calib=calib, quiet=True)
    except _Timeout:
        return Outcome("hang", f"compile still running after {timeout} s and again after {5 * timeout} s")
    except McuforgeError as e:
        msg = str(e)
        leftovers = [p.name for p in (work / "out").glob("*")] if (work / "out").exists() else []
        if leftovers:
            return Outcome("leftover", f"{leftovers} after: {msg}")
        if "\n" in msg.strip():
            return Outcome("internal", f"multi-line message: {msg[:200]!r}")
        return Outcome("refused", msg)
    except Exception as e:  # noqa: BLE001 - exactly what the campaign looks for
        tb = traceback.extract_tb(e.__traceback__)[-1]
        return Outcome("internal", f"{type(e).__name__}: {str(e)[:200]} at {Path(tb.filename).name}:{tb.lineno}")
    stray = [p.name for p in (work / "out").iterdir() if p.name != "lib"]
    if stray:
        return Outcome("leftover", f"{stray} next to a compiled folder")
    if builder is None:
        return Outcome("accepted")
    import json
    info = json.loads((out / "model.json").read_text())
    try:
        return check_library(out, info, work, builder, rng)
    except Exception as e:  # noqa: BLE001
        tb = traceback.extract_tb(e.__traceback__)[-1]
        return Outcome("internal", f"checking the library: {type(e).__name__}: {str(e)[:200]} at "
                                   f"{Path(tb.filename).name}:{tb.lineno}")


def run_campaign(seeds, n: int, root: Path, seed: int = 0, build: bool = True, log=None,
                 build_every: int = 1) -> Campaign:
    """n mutants spread over the seeds (round robin), fixed seed. build_every: build and run the
    library of every k-th accepted mutant (1 = all)."""
    from .mutators import mutate
    rng = np.random.default_rng(seed)
    builder = HostBuilder(root / "objcache") if build else None
    camp = Campaign()
    accepted = 0
    for k in range(n):
        s = seeds[k % len(seeds)]
        data, desc, side = mutate(s, rng)
        work = root / f"case{k:05d}"
        b = builder if (builder is not None and accepted % build_every == 0) else None
        o = compile_one(s, data, side, work, rng, b)
        if o.cls != "refused" and o.cls not in BAD:
            accepted += 1
        o.desc = desc
        camp.add(s.name, o)
        if log is not None and o.cls in BAD:
            log(f"{s.name} #{k} [{desc}] -> {o.cls}: {o.detail}")
        shutil.rmtree(work, ignore_errors=True)
    return camp
