"""Compile one corpus fixture and measure it against its outside oracle; shared by tests/test_corpus.py
(which asserts the thresholds) and benchmarks/corpus.py (which prints the README table).

- ONNX float32: host C vs onnxruntime, max error relative to the largest output magnitude.
- ONNX int8: onnxruntime's own QDQ quantization of the model (quantize_static, per-channel int8
  weights, int8 activations, calibrated on the fixture's calib.npy), compiled with those scales;
  host C vs onnxruntime running that QDQ model without graph optimizations (so it simulates
  quantization exactly); fraction of outputs within 1 LSB.
- TFLite int8: golden model == host C == tflite-micro, byte for byte.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def onnx_path(net: str, exporter: str) -> Path:
    return FIXTURES / f"{net}.{exporter}.onnx"


def tflite_path(net: str) -> Path:
    return FIXTURES / f"{net}.tflite"


def samples(net: str):
    """(calibration samples, test samples), float32, model layout, batch on axis 0."""
    return np.load(FIXTURES / f"{net}.calib.npy"), np.load(FIXTURES / f"{net}.input.npy")


def op_types(path: Path) -> list[str]:
    if path.suffix == ".tflite":
        man = json.loads((FIXTURES / "tflite_manifest.json").read_text())
        return man["networks"][path.stem]["ops"]
    import onnx
    return sorted({n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node})


def _as_list(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def _ort_session(path: Path, disable_opt: bool = False):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    if disable_opt:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def ort_run(path: Path, x: np.ndarray, disable_opt: bool = False) -> list[np.ndarray]:
    """Outputs of onnxruntime, one sample at a time (the fixtures have batch 1), stacked on axis 0."""
    sess = _ort_session(path, disable_opt)
    name = sess.get_inputs()[0].name
    per = [sess.run(None, {name: x[i:i + 1]}) for i in range(len(x))]
    return [np.concatenate([p[k] for p in per]) for k in range(len(per[0]))]


def ort_qdq_model(path: Path, calib: np.ndarray, out: Path) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    name = _ort_session(path).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{name: calib[i:i + 1]} for i in range(len(calib))])

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(path), str(out), Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8, per_channel=True)
    return out


def onnx_float(net: str, exporter: str, tmp: Path) -> dict:
    from mcuforge.api import compile_model, simulate
    path = onnx_path(net, exporter)
    _, x = samples(net)
    res = compile_model(path, tmp / f"{net}.{exporter}.f32", quant="float32", quiet=True)
    got = _as_list(simulate(res.out_dir, "host", x, quiet=True)[0])
    want = ort_run(path, x)
    err = max(float(np.max(np.abs(g.reshape(w.shape) - w))) for g, w in zip(got, want))
    scale = max(float(np.max(np.abs(w))) for w in want)
    return {"max_err": err, "rel_err": err / scale, "arena": res.info["arena_bytes"], "ops": op_types(path),
            "got": got, "want": want}


def onnx_int8(net: str, exporter: str, tmp: Path, board: str = "host", requant: str | None = None) -> dict:
    from mcuforge.api import compile_model, simulate
    path = onnx_path(net, exporter)
    calib, x = samples(net)
    qdq = ort_qdq_model(path, calib, tmp / f"{net}.{exporter}.qdq.onnx")
    res = compile_model(qdq, tmp / f"{net}.{exporter}.int8", quant="int8", calib=calib, quiet=True,
                        requant=requant)
    got, info = simulate(res.out_dir, board, x, quiet=True)
    got = _as_list(got)
    want = ort_run(qdq, x, disable_opt=True)
    diffs = []
    for g, w, io in zip(got, want, res.info["outputs"]):
        q = io["quant"]
        wq = np.clip(np.round(w / q["scale"]) + q["zero_point"], -128, 127)
        diffs.append(np.abs(g.reshape(w.shape).astype(np.int64) - wq.astype(np.int64)).reshape(-1))
    d = np.concatenate(diffs)
    return {"within1": float(np.mean(d <= 1)), "exact": float(np.mean(d == 0)), "max_lsb": int(d.max()),
            "arena": res.info["arena_bytes"], "instructions": info.get("instructions"), "out_dir": res.out_dir,
            "ops": op_types(path)}


def tflite_int8(net: str, tmp: Path, boards=("host",), n: int = 4, seed: int = 0) -> dict:
    """Compile the .tflite, run golden model, host C (and any QEMU boards) and tflite-micro on n
    random int8 inputs; outputs per runner, and whether all are byte-identical."""
    from mcuforge.api import compile_model, simulate
    from mcuforge.sim.tflm import TflmModel
    path = tflite_path(net)
    res = compile_model(path, tmp / f"{net}.tflite.int8", quiet=True)
    io = res.info["inputs"][0]
    user_shape = tuple(io["shape"][i] for i in np.argsort(io["perm"])) if io["perm"] else tuple(io["shape"])
    x = np.random.default_rng(seed).integers(-128, 128, (n,) + user_shape, dtype=np.int8)
    tflm = TflmModel(path.read_bytes(), arena_size=1 << 21)
    want = [np.stack([np.asarray(o) for o in outs]) for outs in zip(*[tflm.run(xi) for xi in x])]
    runs = {"tflm": want}
    instructions = None
    for board in ("reference",) + tuple(boards):
        y, info = simulate(res.out_dir, board, x, quiet=True)
        runs[board] = [a.reshape(w.shape) for a, w in zip(_as_list(y), want)]
        if board.startswith("mps"):
            instructions = info["instructions"]
    same = {b: all(np.array_equal(a, w) for a, w in zip(r, want)) for b, r in runs.items()}
    return {"byte_exact": same, "arena": res.info["arena_bytes"], "instructions": instructions, "ops": op_types(path),
            "out_dir": res.out_dir}
