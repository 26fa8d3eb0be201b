"""Evaluations on Ray: one actor per worker holds the Evaluator (shipped once through the object
store, its calibration statistics computed once per actor), configurations go to whichever
actor is free and results stream back as they finish. `ray.init()` starts a local Ray on this
machine's cores unless an address of a running cluster is given."""
from __future__ import annotations

import os

from ..errors import McuforgeError


def _ray():
    try:
        import ray
    except ImportError:
        raise McuforgeError("evaluations on Ray need ray: pip install 'mcuforge[search]'") from None
    return ray


class _Worker:
    def __init__(self, evaluate):
        self.evaluate = evaluate

    def run(self, config):
        return self.evaluate(config)


class RayBackend:
    """map(configs, on_result) with the SerialBackend's interface; workers=None takes every CPU
    Ray reports."""

    def __init__(self, evaluate, workers: int | None = None, address: str | None = None):
        ray = _ray()
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            kw = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
            if address:
                ray.init(address=address, **kw)
            else:
                # the workers import mcuforge from where this process found it
                pkg_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
                path = os.pathsep.join([pkg_root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
                ray.init(num_cpus=workers, runtime_env={"env_vars": {"PYTHONPATH": path}}, **kw)
            self.started = True
        cpus = int(ray.available_resources().get("CPU", 1))
        self.workers = max(1, workers or cpus)
        ref = ray.put(evaluate)
        actor = ray.remote(num_cpus=1)(_Worker)
        self.actors = [actor.remote(ref) for _ in range(self.workers)]

    def map(self, configs: list[dict], on_result):
        ray = self.ray
        queue = list(configs)
        running = {}
        free = list(self.actors)
        while queue or running:
            while queue and free:
                a = free.pop(0)
                c = queue.pop(0)
                running[a.run.remote(c)] = (a, c)
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                a, c = running.pop(ref)
                free.append(a)
                on_result(c, ray.get(ref))

    def close(self):
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []
        if self.started:
            self.ray.shutdown()
