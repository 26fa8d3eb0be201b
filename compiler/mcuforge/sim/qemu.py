"""Runs firmware built by mcuforge.sim.build: under qemu-system-arm, or directly for the host.

QEMU runs with ``-icount shift=0``: every executed instruction advances virtual time by 1 ns and
SysTick follows virtual time, so the counts the firmware reports are deterministic and equal
to executed instructions (to one SysTick tick). Without icount SysTick follows wall time.
Semihosting output is routed to QEMU's stdout (a stdio chardev) so that QEMU's own diagnostics
stay on stderr; semihosting file names resolve relative to `cwd`.

Instruction-count convention (see runtime_c/board/mcf_board.h): the firmware prints lines
``MCF_INSTRUCTIONS <n>`` (one per inference, parsed in order into RunResult.instructions) and
``MCF_INSTRUCTIONS <n> <label>`` (parsed into RunResult.instruction_marks as (label, n)).
``MCF_STACK_USED <bytes>`` (mcf_board_report_stack) gives RunResult.stack_used.
A CPU fault prints ``MCF_FAULT ...`` and exits with code 70.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import McuforgeError
from ..targets import Board, as_board
from . import toolchain

FAULT_EXIT_CODE = 70  # MCF_BOARD_EXIT_FAULT in mcf_board.h
_LINE = re.compile(r"^MCF_INSTRUCTIONS (\d+)(?: +(\S.*?))?\s*$", re.MULTILINE)
_STACK = re.compile(r"^MCF_STACK_USED (\d+)\s*$", re.MULTILINE)


@dataclass
class RunResult:
    exit_code: int
    stdout: str
    # Per-inference counts in print order; None on the host, where nothing is counted.
    instructions: list[int] | None
    instruction_marks: list[tuple[str, int]] = field(default_factory=list)
    # Stack high-water mark from the last "MCF_STACK_USED <bytes>" line (painted stack), if any.
    stack_used: int | None = None
    stderr: str = ""
    command: list[str] = field(default_factory=list)

    @property
    def faulted(self) -> bool:
        return "MCF_FAULT" in self.stdout

    def check(self, expected_exit: int = 0) -> "RunResult":
        """Raise McuforgeError unless the program exited with `expected_exit`."""
        if self.exit_code != expected_exit:
            fault = next((ln for ln in self.stdout.splitlines() if ln.startswith("MCF_FAULT")), "")
            tail = fault or (self.stdout.strip().splitlines() or [""])[-1] or self.stderr.strip()
            raise McuforgeError(f"firmware exited with code {self.exit_code} (expected {expected_exit})"
                                + (f": {tail}" if tail else ""))
        return self


def qemu_command(board: Board | str, elf: Path) -> list[str]:
    board = as_board(board)
    if board.is_host:
        raise McuforgeError(f"board {board.name!r} runs natively, not under QEMU")
    return [
        str(toolchain.qemu_arm()), "-M", board.qemu_machine,
        "-nographic", "-monitor", "none", "-serial", "none",
        "-chardev", "stdio,id=mcf_semihost,signal=off",
        "-semihosting-config", "enable=on,target=native,chardev=mcf_semihost",
        # 1 instruction = 1 ns of virtual time; sleep=off: an idle core jumps to the next timer
        # deadline instead of waiting in real time.
        "-icount", "shift=0,sleep=off",
        "-kernel", str(Path(elf).resolve()),
    ]


def parse_instructions(stdout: str) -> tuple[list[int], list[tuple[str, int]]]:
    counts: list[int] = []
    marks: list[tuple[str, int]] = []
    for number, label in _LINE.findall(stdout):
        if label:
            marks.append((label, int(number)))
        else:
            counts.append(int(number))
    return counts, marks


def run_firmware(board: Board | str, elf_or_exe: Path, cwd: Path, timeout: float = 120) -> RunResult:
    """Run a firmware (QEMU) or host executable with `cwd` as its working directory.

    Returns the exit code (main's return value, 70 on a CPU fault), the console output and the
    parsed instruction counts. A run longer than `timeout` seconds raises McuforgeError.
    """
    board = as_board(board)
    binary = Path(elf_or_exe).resolve()
    if not binary.is_file():
        raise McuforgeError(f"firmware not found: {binary}")
    cmd = [str(binary)] if board.is_host else qemu_command(board, binary)
    try:
        proc = subprocess.run(cmd, cwd=str(cwd), stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise McuforgeError(f"{binary.name} on {board.name} did not finish within {timeout:g} s") from exc
    except OSError as exc:
        raise McuforgeError(f"cannot run {cmd[0]}: {exc}") from exc
    stdout = proc.stdout.decode(errors="replace")
    stderr = proc.stderr.decode(errors="replace")
    counts, marks = parse_instructions(stdout)
    stack = _STACK.findall(stdout)
    return RunResult(exit_code=proc.returncode, stdout=stdout,
                     instructions=None if board.is_host else counts,
                     instruction_marks=[] if board.is_host else marks,
                     stack_used=int(stack[-1]) if stack else None,
                     stderr=stderr, command=cmd)
