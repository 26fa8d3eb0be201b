"""A value in the graph: name, shape, dtype, optional constant data and quantization."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DTYPES = {
    "float32": np.float32, "int8": np.int8, "uint8": np.uint8, "int16": np.int16,
    "int32": np.int32, "int64": np.int64, "bool": np.bool_,
}
C_TYPES = {"float32": "float", "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t",
           "int32": "int32_t", "int64": "int64_t", "bool": "uint8_t"}


@dataclass
class QuantParams:
    """Affine quantization real = scale * (q - zero_point), per tensor or per channel on `axis`."""
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None

    def __post_init__(self):
        self.scale = np.atleast_1d(np.asarray(self.scale, dtype=np.float64))
        self.zero_point = np.atleast_1d(np.asarray(self.zero_point, dtype=np.int64))
        if self.zero_point.size == 1 and self.scale.size > 1:
            self.zero_point = np.full(self.scale.shape, int(self.zero_point[0]), np.int64)

    @property
    def per_channel(self) -> bool:
        return self.axis is not None and self.scale.size > 1

    @property
    def s(self) -> float:
        """The per-tensor scale (error for per-channel params)."""
        assert self.scale.size == 1, "per-channel scale used as per-tensor"
        return float(self.scale[0])

    @property
    def zp(self) -> int:
        assert self.zero_point.size == 1 or not np.any(self.zero_point - self.zero_point[0])
        return int(self.zero_point[0])

    def same_as(self, other: "QuantParams | None") -> bool:
        return (other is not None and self.scale.shape == other.scale.shape
                and np.array_equal(self.scale, other.scale)
                and np.array_equal(self.zero_point, other.zero_point))


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    data: np.ndarray | None = None
    quant: QuantParams | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.shape = tuple(int(d) for d in self.shape)
        if self.dtype not in DTYPES:
            raise ValueError(f"tensor {self.name}: unknown dtype {self.dtype}")
        if self.data is not None:
            self.data = np.asarray(self.data, dtype=DTYPES[self.dtype]).reshape(self.shape)

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(DTYPES[self.dtype]).itemsize

    @property
    def np_dtype(self):
        return DTYPES[self.dtype]

    @property
    def c_type(self) -> str:
        return C_TYPES[self.dtype]
