"""The search loop: a tuner proposes a batch, a backend evaluates it (here, or on Ray), results
stream into a JSON-lines results file and a progress line, and the next batch is asked with the
whole history. The batch size, not the number of workers, fixes the sequence of proposals, so
the same seed gives the same trials on 1 or N workers. An interrupted search resumes from its
results file: the tuner replays its proposals and every configuration already in the file is
taken from it instead of being evaluated again."""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import McuforgeError
from .space import Space

OBJECTIVES = ("acc", "pareto")


@dataclass
class Trial:
    trial: int
    config: dict
    result: dict
    score: float


@dataclass
class SearchResult:
    trials: list[Trial]
    best: Trial
    evaluated: int            # evaluations run in this call (the others came from the results file)
    seconds: float
    space: Space = field(repr=False)

    def trials_to(self, target: float, tol: float = 0.002) -> int | None:
        """1-based trial at which the score (the accuracy, minus 1 over the flash budget) first
        came within tol of target."""
        for t in self.trials:
            if t.score >= target - tol:
                return t.trial
        return None


def score(result: dict, objective: str = "acc", flash_budget: int | None = None) -> float:
    """Accuracy; under a flash budget a configuration over it scores its accuracy minus 1."""
    acc = float(result["accuracy"])
    if flash_budget is not None and flash_of(result) > flash_budget:
        return acc - 1.0
    return acc


def flash_of(result: dict) -> int:
    return int(result.get("flash_bytes", result["weights_bytes"]))


def best_trial(trials: list[Trial]) -> Trial:
    """Highest score; ties go to the smaller arena, then the smaller flash, then the earlier."""
    return min(trials, key=lambda t: (-t.score, t.result.get("arena_bytes", 0), flash_of(t.result), t.trial))


class SerialBackend:
    workers = 1

    def __init__(self, evaluate):
        self.evaluate = evaluate

    def map(self, configs: list[dict], on_result):
        for c in configs:
            on_result(c, self.evaluate(c))

    def close(self):
        pass


class Progress:
    def __init__(self, total: int, enabled: bool = True, stream=None):
        self.total, self.enabled = total, enabled
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.perf_counter()
        self.last = -1

    def update(self, done: int, best: float | None, note: str = ""):
        if not self.enabled or done == self.last:
            return
        self.last = done
        width = 24
        fill = int(width * done / max(self.total, 1))
        line = (f"[tune] [{'#' * fill}{'.' * (width - fill)}] {done}/{self.total} trials"
                f"{'' if best is None else f', best {best:.4f}'}, {time.perf_counter() - self.t0:.0f} s{note}")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done >= self.total else ""))
        elif done >= self.total or done % 10 == 0:
            self.stream.write(line + "\n")
        self.stream.flush()


def _read_results(path: Path, header: dict) -> dict[str, dict]:
    lines = path.read_text().splitlines()
    if not lines:
        return {}
    try:
        head = json.loads(lines[0])
    except json.JSONDecodeError:
        raise McuforgeError(f"{path} is not a results file of `mcuforge tune`") from None
    if head.get("header") != header:
        raise McuforgeError(f"{path} holds results of another search (different model, space, tuner, seed "
                            "or objective): remove it or write to another folder")
    cache = {}
    for line in lines[1:]:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by the interruption
        cache[row["key"]] = row["result"]
    return cache


def run_search(evaluate, space: Space, tuner, budget: int, results_path=None, backend=None, batch: int = 1,
               objective: str = "acc", flash_budget: int | None = None, progress: bool = True,
               header: dict | None = None, stop_at: float | None = None) -> SearchResult:
    """evaluate(config) -> {'accuracy', 'weights_bytes', 'arena_bytes', ...}; budget: trials;
    stop_at: stop after the batch in which the score first reaches this value."""
    if objective not in OBJECTIVES:
        raise McuforgeError(f"objective must be one of {OBJECTIVES}, not {objective!r}")
    if budget < 1 or batch < 1:
        raise McuforgeError("the number of trials and the batch size must be at least 1")
    budget = min(budget, space.size)
    header = dict(header or {}, space=space.to_json(), tuner=tuner.name, seed=tuner.seed, objective=objective,
                  flash_budget=flash_budget, batch=batch)
    header = json.loads(json.dumps(header))
    cache: dict[str, dict] = {}
    out = None
    if results_path is not None:
        results_path = Path(results_path)
        if results_path.is_file():
            cache = _read_results(results_path, header)
        else:
            results_path.parent.mkdir(parents=True, exist_ok=True)
            results_path.write_text(json.dumps({"header": header}) + "\n")
        out = results_path.open("a")
    backend = backend or SerialBackend(evaluate)
    bar = Progress(budget, progress)
    trials: list[Trial] = []
    history: list[tuple[dict, float]] = []
    evaluated = 0
    t0 = time.perf_counter()
    try:
        while len(trials) < budget:
            configs = tuner.ask(min(batch, budget - len(trials)), history)
            if not configs:
                break
            todo = [c for c in configs if space.key(c) not in cache]
            shown = len(trials) + len(configs) - len(todo)

            def on_result(config, result):
                nonlocal evaluated, shown
                evaluated += 1
                shown += 1
                cache[space.key(config)] = result
                if out is not None:
                    out.write(json.dumps({"key": space.key(config), "config": config, "result": result}) + "\n")
                    out.flush()
                bar.update(shown, max([t.result["accuracy"] for t in trials] + [result["accuracy"]]))

            backend.map(todo, on_result)
            for c in configs:
                r = cache[space.key(c)]
                trials.append(Trial(len(trials) + 1, c, r, score(r, objective, flash_budget)))
                history.append((c, trials[-1].score))
            bar.update(len(trials), max(t.result["accuracy"] for t in trials))
            if stop_at is not None and max(t.score for t in trials) >= stop_at:
                break
    finally:
        if out is not None:
            out.close()
    if not trials:
        raise McuforgeError("the search ran no trial")
    return SearchResult(trials, best_trial(trials), evaluated, time.perf_counter() - t0, space)
