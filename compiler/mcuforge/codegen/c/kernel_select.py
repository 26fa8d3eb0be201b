"""Kernel selection: the one seam between a layer and the C function that runs it.

Every kernel has a portable reference version in runtime_c/kernels/<name>.c. Optimized variants
(DSP SIMD, Helium, ...) register here with the core features they need; the first variant whose
features the target core has wins, so adding one never touches the layer builders."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Variant:
    function: str
    sources: tuple[str, ...]
    requires: frozenset = frozenset()       # core features, e.g. {"dsp"}
    # optional predicate on the layer's parameters (e.g. only 1x1 kernels)
    accepts: callable = None


VARIANTS: dict[str, list[Variant]] = {}


def register_variant(kernel: str, variant: Variant):
    VARIANTS.setdefault(kernel, []).insert(0, variant)


@dataclass
class KernelSelector:
    features: frozenset = field(default_factory=frozenset)
    portable_only: bool = False

    def pick(self, kernel: str, params: dict | None = None) -> tuple[str, list[str]]:
        if not self.portable_only:
            for v in VARIANTS.get(kernel, []):
                if v.requires <= self.features and (v.accepts is None or v.accepts(params or {})):
                    return v.function, list(v.sources)
        return kernel, [f"{kernel}.c"]
