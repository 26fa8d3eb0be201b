"""Where the MLPerf Tiny reference models live: $MCUFORGE_MLPERF_TINY, by default
../shared/models/mlperf-tiny relative to the repository root. They are external data and are
never copied into the repository."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INT8_MODELS = ["kws_dscnn_int8", "ic_resnet8_int8", "vww_mbv1_96_int8", "ad_fcae_int8"]
FLOAT_MODELS = ["ic_resnet8_float", "vww_mbv1_96_float", "ad_fcae_float"]


def mlperf_dir() -> Path:
    return Path(os.environ.get("MCUFORGE_MLPERF_TINY", REPO.parent / "shared" / "models" / "mlperf-tiny"))


def model_path(name: str) -> Path:
    """The .tflite path, or a pytest skip that says exactly what is missing and how to point to it."""
    p = mlperf_dir() / f"{name}.tflite"
    if not p.is_file():
        pytest.skip(f"MLPerf Tiny model {p} not found (external data; set MCUFORGE_MLPERF_TINY "
                    "to the folder holding the .tflite files)")
    return p
