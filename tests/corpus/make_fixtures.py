"""Export every corpus network through both torch exporters and write the committed fixtures.

    cd tests && python -m corpus.make_fixtures [names...]

For each network NAME, tests/corpus/fixtures/ gets
  NAME.ts.onnx      torch.onnx.export(..., dynamo=False): the TorchScript exporter, its default opset
  NAME.dynamo.onnx  torch.onnx.export(..., dynamo=True): the dynamo exporter, its default opset; it
                    writes the weights to a .onnx.data side file, which is loaded back and re-saved
                    as one self-contained file (onnx.save(..., save_as_external_data=False));
                    the per-node metadata_props (module paths, rewrite-rule names) are dropped
  NAME.calib.npy    8 float32 calibration samples (model layout, batch on axis 0)
  NAME.input.npy    4 float32 test samples (a different seed)
and manifest.json records torch / onnx / onnxscript versions, each file's opset and op types.
Committing the files keeps the tests independent of the exporter versions installed at test time.
"""
from __future__ import annotations

import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

from corpus.nets import NETWORKS, build, input_batch

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXPORTERS = ("ts", "dynamo")
N_CALIB, N_INPUT = 8, 4


def export(model, x, exporter: str, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "ts":
            torch.onnx.export(model, (x,), str(path), dynamo=False)
            return
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp) / path.name
            torch.onnx.export(model, (x,), str(tmp_path), dynamo=True, verbose=False)
            m = onnx.load(str(tmp_path))  # pulls in the .onnx.data side file
        for node in m.graph.node:  # per-node source stack traces: 40 % of the file, no semantics
            del node.metadata_props[:]
    onnx.save(m, str(path), save_as_external_data=False)


def describe(path: Path) -> dict:
    m = onnx.load(str(path))
    opset = max((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), default=None)
    return {"opset": opset, "ops": sorted({n.op_type for n in m.graph.node}), "bytes": path.stat().st_size,
            "inputs": [i.name for i in m.graph.input], "outputs": [o.name for o in m.graph.output]}


def main(names):
    FIXTURES.mkdir(exist_ok=True)
    manifest_path = FIXTURES / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"networks": {}}
    manifest["versions"] = {"torch": torch.__version__, "onnx": onnx.__version__}
    try:
        import onnxscript
        manifest["versions"]["onnxscript"] = onnxscript.__version__
    except ImportError:
        pass
    manifest["dynamo_external_data"] = ("re-saved as a single file (save_as_external_data=False), "
                                        "node metadata_props dropped")
    for name in names:
        model, x = build(name)
        entry = {"input_shape": list(x.shape)}
        for exp in EXPORTERS:
            path = FIXTURES / f"{name}.{exp}.onnx"
            export(model, x, exp, path)
            entry[exp] = describe(path)
        np.save(FIXTURES / f"{name}.calib.npy", input_batch(name, N_CALIB, seed=7).astype(np.float32))
        np.save(FIXTURES / f"{name}.input.npy", input_batch(name, N_INPUT, seed=8).astype(np.float32))
        manifest["networks"][name] = entry
        print(f"{name:20s} ts opset {entry['ts']['opset']} {entry['ts']['bytes'] / 1024:6.1f} KB | dynamo opset "
              f"{entry['dynamo']['opset']} {entry['dynamo']['bytes'] / 1024:6.1f} KB", flush=True)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:] or list(NETWORKS))
