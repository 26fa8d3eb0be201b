"""Builds firmware for a board and measures it (flash, RAM, worst-case stack) from the linked ELF.

``build_firmware`` compiles the given C sources together with the board support code from
runtime_c/board/ (startup + semihosting board API for QEMU boards, stdio for the host), links
them with a linker script rendered from the board TOML, and returns the ELF (or host executable).

``elf_memory`` reads section sizes straight from the ELF section headers and the worst-case stack
from the call graphs GCC writes with ``-fcallgraph-info=su`` (one ``.ci`` file per object, next to
the ``.su`` files of ``-fstack-usage``).
"""
from __future__ import annotations

import os
import re
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jinja2

from ..errors import McuforgeError
from ..resources import runtime_c, templates
from ..targets import Board, as_board
from . import toolchain

WARNING_FLAGS = ("-Wall", "-Wextra", "-Werror")
SECTION_FLAGS = ("-ffunction-sections", "-fdata-sections")
STACK_FLAGS = ("-fstack-usage", "-fcallgraph-info=su")

# Stack allowance for a call into code we have no .su data for (newlib's memcpy/memset, libgcc's
# __aeabi_* helpers). Those are small leaf routines; 64 bytes bounds what they push.
EXTERNAL_CALL_STACK_BYTES = 64
# What an exception entry pushes on top of the interrupted stack: 8 words (+1 alignment word),
# or 26 words (+1) when the FPU context is stacked too (hard-float code on an FPU core).
EXCEPTION_FRAME_BYTES = 36
EXCEPTION_FRAME_FPU_BYTES = 108
# Handlers that can interrupt main's call tree (the fault handlers move SP to the top first).
INTERRUPT_HANDLERS = ("SysTick_Handler",)


def board_sources(board: Board) -> list[Path]:
    """The board support C files linked into every firmware for `board`."""
    folder = runtime_c() / "board"
    if board.is_host:
        return [folder / "board_host.c"]
    return [folder / "startup_cortexm.c", folder / "board_qemu.c"]


def board_defines(board: Board) -> dict[str, str | int | None]:
    defines: dict[str, str | int | None] = {"MCF_BOARD_NAME": f'"{board.name}"'}
    if board.is_host:
        defines["MCF_BOARD_HOST"] = 1
    else:
        # The firmware turns SysTick ticks into instructions with this (-icount shift=0: 1 ns each).
        defines["MCF_BOARD_CLOCK_HZ"] = f"{board.clock_hz}u"
    return defines


def render_linker_script(board: Board, stack_bytes: int) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates())),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template("c/board/link.ld.j2").render(
        board_name=board.name, core_name=board.core.name,
        flash_origin=board.flash_origin, flash_size=board.flash_size,
        ram_origin=board.ram_origin, ram_size=board.ram_size, stack_bytes=stack_bytes)


def _define_flag(name: str, value) -> str:
    return f"-D{name}" if value is None else f"-D{name}={value}"


def _first_error(log: str) -> str:
    lines = [line.strip() for line in log.splitlines()
             if line.strip() and "collect2" not in line and "ld returned" not in line]
    # The linker's own diagnostics say more than "error" lines (e.g. by how much RAM overflowed).
    for pattern in (r"overflowed by", r"will not fit|undefined reference|multiple definition|cannot find",
                    r"\berror\b", r"warning"):
        for line in lines:
            if re.search(pattern, line, re.IGNORECASE):
                return re.sub(r"^\S*/ld(\.bfd)?: ", "ld: ", line)
    return lines[0] if lines else "(no output)"


def _run(cmd: list[str], what: str, log_path: Path) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    except OSError as exc:
        raise McuforgeError(f"{what}: cannot run {cmd[0]}: {exc}") from exc
    log = proc.stdout + proc.stderr
    if log:
        with open(log_path, "a") as fh:
            fh.write("$ " + " ".join(cmd) + "\n" + log + "\n")
    if proc.returncode != 0:
        raise McuforgeError(f"{what} failed: {_first_error(log)} (full log: {log_path})")


def build_firmware(board: Board | str, sources: list[Path], include_dirs: list[Path], out_dir: Path,
                   opt: str = "-O2", defines: dict | None = None, stack_bytes: int = 8192, *,
                   name: str = "firmware", extra_cflags: list[str] | None = None) -> Path:
    """Compile and link `sources` for `board`; return the ELF (QEMU boards) or executable (host).

    The board support code (runtime_c/board/) and its include directory are added automatically,
    as are MCF_BOARD_NAME and MCF_BOARD_CLOCK_HZ (QEMU) or MCF_BOARD_HOST (host); `defines` may add
    or override (value None gives a bare -DNAME). Objects, .su and .ci files go to out_dir/obj/,
    the linker script and map file next to the ELF. A stack of `stack_bytes` is reserved as a
    .stack section, so a firmware whose static RAM plus stack exceeds the board's RAM fails to
    link. Compiler or linker failures raise McuforgeError with the first error line.
    """
    board = as_board(board)
    cc = str(toolchain.compiler_for(board.core.cc))
    out_dir = Path(out_dir)
    obj_dir = out_dir / "obj"
    obj_dir.mkdir(parents=True, exist_ok=True)
    for stale in obj_dir.iterdir():  # stale .su/.ci files would distort the stack analysis
        if stale.is_file() and stale.suffix in (".o", ".su", ".ci", ".d"):
            stale.unlink()
    exe = out_dir / (name if board.is_host else f"{name}.elf")
    log_path = out_dir / f"{name}.build.log"
    for old in (exe, log_path):
        if old.exists():
            old.unlink()

    all_sources = [Path(s) for s in sources] + board_sources(board)
    for src in all_sources:
        if not src.is_file():
            raise McuforgeError(f"source file not found: {src}")
    includes = [runtime_c() / "board"] + [Path(d) for d in include_dirs]
    all_defines = board_defines(board)
    all_defines.update(defines or {})

    cflags = [*board.core.cflags, opt, "-g", *WARNING_FLAGS, *SECTION_FLAGS, *STACK_FLAGS,
              *(f"-I{d}" for d in includes), *(_define_flag(k, v) for k, v in all_defines.items()),
              *(extra_cflags or [])]

    objects = []
    jobs = []
    for index, src in enumerate(all_sources):
        obj = obj_dir / f"{index:03d}_{src.stem}.o"
        objects.append(obj)
        jobs.append(([cc, *cflags, "-c", str(src), "-o", str(obj)], f"compiling {src.name} for {board.name}"))
    with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
        futures = [pool.submit(_run, cmd, what, log_path) for cmd, what in jobs]
        for future in futures:
            future.result()  # re-raises the first failing compile, in source order

    if board.is_host:
        link = [cc, *board.core.cflags, opt, *(str(o) for o in objects), "-Wl,--gc-sections",
                f"-Wl,-Map={out_dir / (name + '.map')}", "-lm", "-o", str(exe)]
    else:
        script = out_dir / f"{name}.ld"
        script.write_text(render_linker_script(board, stack_bytes))
        link = [cc, *board.core.cflags, opt, "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
                "-T", str(script), "-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments",
                f"-Wl,-Map={out_dir / (name + '.map')}", *(str(o) for o in objects), "-lm", "-o", str(exe)]
    _run(link, f"linking {exe.name} for {board.name}", log_path)
    return exe


# ---------------------------------------------------------------------------------------------
# ELF section sizes (read directly from the section headers; works for ARM and host ELFs)

_SHF_WRITE, _SHF_ALLOC = 0x1, 0x2
_SHT_NOBITS = 8
_EM_ARM = 40
_EF_ARM_ABI_FLOAT_HARD = 0x400


def _elf_sections(path: Path) -> tuple[dict, list[dict]]:
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF":
        raise McuforgeError(f"{path} is not an ELF file")
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        e_machine, = struct.unpack_from(end + "H", data, 18)
        e_flags, = struct.unpack_from(end + "I", data, 48)
        shoff, = struct.unpack_from(end + "Q", data, 40)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 58)
        fmt = end + "IIQQQQIIQQ"
    else:
        e_machine, = struct.unpack_from(end + "H", data, 18)
        e_flags, = struct.unpack_from(end + "I", data, 36)
        shoff, = struct.unpack_from(end + "I", data, 32)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 46)
        fmt = end + "IIIIIIIIII"
    raw = [struct.unpack_from(fmt, data, shoff + i * shentsize) for i in range(shnum)]
    str_off = raw[shstrndx][4]

    def name_at(offset: int) -> str:
        stop = data.index(b"\0", str_off + offset)
        return data[str_off + offset:stop].decode()

    sections = [dict(name=name_at(s[0]), type=s[1], flags=s[2], addr=s[3], size=s[5]) for s in raw]
    return dict(machine=e_machine, flags=e_flags), sections


# ---------------------------------------------------------------------------------------------
# Worst-case stack from GCC's -fcallgraph-info=su (VCG files)

_NODE = re.compile(r'node:\s*\{\s*title:\s*"([^"]+)"\s*label:\s*"([^"]*)"')
_EDGE = re.compile(r'edge:\s*\{\s*sourcename:\s*"([^"]+)"\s*targetname:\s*"([^"]+)"')
_BYTES = re.compile(r"\\n(\d+) bytes \(([^)]*)\)")


def _read_callgraphs(su_dir: Path):
    """Per translation unit: {function: (bytes, qualifier)} and [(caller, callee)]."""
    units = []
    for ci in sorted(Path(su_dir).rglob("*.ci")):
        text = ci.read_text(errors="replace")
        frames = {}
        for title, label in _NODE.findall(text):
            match = _BYTES.search(label)
            if match:
                frames[title] = (int(match.group(1)), match.group(2))
        units.append((frames, _EDGE.findall(text)))
    return units


def stack_usage(su_dir: Path, root: str = "main") -> tuple[int | None, list[str]]:
    """Worst-case stack bytes of `root`'s call tree and a list of caveats.

    Calls resolve to a definition in the same translation unit first (static functions), then
    to any unit. Callees without stack data (libc, libgcc) count EXTERNAL_CALL_STACK_BYTES;
    indirect calls, recursion and dynamically sized frames are listed as caveats, since the
    figure is then not a proven bound. Returns (None, caveats) when `root` has no data.
    """
    units = _read_callgraphs(su_dir)
    defined: dict[str, list[int]] = {}
    for index, (frames, _) in enumerate(units):
        for fn in frames:
            defined.setdefault(fn, []).append(index)
    notes: set[str] = set()

    def resolve(fn: str, unit: int | None):
        if unit is not None and fn in units[unit][0]:
            return unit
        return defined[fn][0] if fn in defined else None

    def shown(fn: str) -> str:  # GCC titles static functions "<source path>:<name>"
        return fn.rsplit(":", 1)[-1]

    memo: dict[tuple[int, str], int] = {}
    active: set[tuple[int, str]] = set()

    def worst(fn: str, unit: int) -> int:
        key = (unit, fn)
        if key in memo:
            return memo[key]
        if key in active:
            notes.add(f"recursion through {shown(fn)} (not bounded)")
            return 0
        active.add(key)
        size, qualifier = units[unit][0][fn]
        if qualifier != "static":
            notes.add(f"{shown(fn)} has a {qualifier} frame")
        deepest = 0
        for caller, callee in units[unit][1]:
            if caller != fn:
                continue
            if callee == "__indirect_call":
                notes.add(f"indirect call in {shown(fn)} (not followed)")
                continue
            target = resolve(callee, unit)
            if target is None:
                deepest = max(deepest, EXTERNAL_CALL_STACK_BYTES)
                continue
            deepest = max(deepest, worst(callee, target))
        active.discard(key)
        memo[key] = size + deepest
        return memo[key]

    start = resolve(root, None)
    if start is None:
        return None, [f"no stack data for {root}"]
    return worst(root, start), sorted(notes)


def elf_memory(elf: Path, su_dir: Path | None = None) -> dict:
    """Flash, RAM and stack figures of a linked firmware.

    Keys (bytes; None where not measurable, i.e. flash/RAM on the host):
      flash_bytes           everything stored in flash: vectors, code, read-only data, exception
                            tables and the initial values of .data
      static_ram_bytes      .data + .bss (arena, buffers, globals)
      stack_bytes           worst case from -fcallgraph-info of the tree below the reset code
                            (mcf_reset_c -> main, or main on the host) plus one interrupt
                            (exception frame + SysTick_Handler) on Cortex-M
      ram_bytes             static_ram_bytes + stack_bytes: the peak SRAM the firmware needs
      stack_reserved_bytes  size of the .stack section the linker reserved
      stack_notes           caveats of the stack figure (indirect calls, recursion, ...)
    `su_dir` defaults to the obj/ folder build_firmware wrote next to the ELF.
    """
    elf = Path(elf)
    su_dir = Path(su_dir) if su_dir is not None else elf.parent / "obj"
    header, sections = _elf_sections(elf)
    is_arm = header["machine"] == _EM_ARM

    stack, notes = None, ["no call-graph data in " + str(su_dir)]
    if su_dir.is_dir():
        root = "mcf_reset_c" if is_arm else "main"
        stack, notes = stack_usage(su_dir, root)
        if stack is not None and is_arm:
            fpu = bool(header["flags"] & _EF_ARM_ABI_FLOAT_HARD)
            handler = max((stack_usage(su_dir, h)[0] or 0) for h in INTERRUPT_HANDLERS)
            stack += (EXCEPTION_FRAME_FPU_BYTES if fpu else EXCEPTION_FRAME_BYTES) + handler

    if not is_arm:
        return dict(flash_bytes=None, static_ram_bytes=None, stack_bytes=stack, ram_bytes=None,
                    stack_reserved_bytes=None, stack_notes=notes)

    flash = static_ram = reserved = 0
    for sec in sections:
        if not sec["flags"] & _SHF_ALLOC or sec["size"] == 0:
            continue
        if sec["name"] == ".stack":
            reserved += sec["size"]
            continue
        if sec["type"] != _SHT_NOBITS:
            flash += sec["size"]  # .data counts here too: its initial image lives in flash
        if sec["flags"] & _SHF_WRITE:
            static_ram += sec["size"]
    return dict(flash_bytes=flash, static_ram_bytes=static_ram, stack_bytes=stack,
                ram_bytes=None if stack is None else static_ram + stack,
                stack_reserved_bytes=reserved, stack_notes=notes)
