"""Automatic quantization search.

- `space`: the knobs (real compile options: calibration method and clipping, weight granularity,
  activation scheme, calibration data, kernel choices) and their configurations;
- `evaluate`: compiles a configuration and measures accuracy with the golden model on the user's
  data and cost (weights, arena; executed instructions under QEMU on request);
- tuners: `tuners` (grid, random, genetic) and `quantune` (an XGBoost cost model refitted as
  results come in), all driven by `runner.run_search` with one evaluation budget;
- `zeroq`: distilled calibration data from the BatchNorm statistics of the float ONNX model;
- `ray_runner`: the same evaluations on Ray (local cores or a cluster).

xgboost, ray and torch (ZeroQ) are optional extras (`pip install mcuforge[search]`), imported
lazily; nothing here is on the inference compile path.
"""
