"""Compiling a model for inference needs only the base dependencies of pyproject.toml: a plain
`pip install mcuforge` reads .onnx and .tflite files, and never imports an optional extra (torch,
tvm, ray, xgboost). Checked by compiling in a fresh interpreter and mapping every third-party module
it imported to the distribution that provides it."""
import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from mlperf_data import model_path

REPO = Path(__file__).resolve().parents[1]
HEAVY = {"torch", "tvm", "ray", "xgboost", "onnxruntime", "tflite_micro"}

PROBE = r"""
import json, sys
startup = {m.split('.')[0] for m in sys.modules}  # site hooks (.pth files) of this environment
from mcuforge.api import compile_model
compile_model(sys.argv[1], sys.argv[2], target="cortex-m4", quiet=True)
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} - startup)))
"""


def _name(req: str) -> str:
    return re.split(r"[ ;<>=!~\[]", req, maxsplit=1)[0].strip().lower().replace("_", "-")


def _closure(names: set[str]) -> set[str]:
    """The distributions `names` pull in, following their (non-extra) requirements."""
    seen, todo = set(), list(names)
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        try:
            reqs = metadata.requires(n) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_name(r) for r in reqs if "extra ==" not in r]
    return seen


def test_tflite_compile_uses_base_dependencies_only(tmp_path):
    base = {_name(r) for r in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]}
    allowed = _closure(base)
    out = subprocess.run([sys.executable, "-c", PROBE, str(model_path("kws_dscnn_int8")), str(tmp_path / "lib")],
                         capture_output=True, text=True, check=True)
    modules = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not modules & HEAVY, f"inference compile imported {sorted(modules & HEAVY)}"
    providers = metadata.packages_distributions()
    used = {d.lower().replace("_", "-") for m in modules for d in providers.get(m, [])}
    used.discard("mcuforge")
    assert "tflite" in used  # the reader is really exercised
    assert used <= allowed, f"needs distributions outside the base dependencies: {sorted(used - allowed)}"
