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
    # core features under which the variant is never the one to take (a SIMD kernel is faster and a
    # lean arena choice should fall back to the tuned C one, as the instruction models assume)
    excludes: frozenset = frozenset()
    # optional predicate on the layer's parameters (e.g. only 1x1 kernels)
    accepts: callable = None
    # optional compile-time preparation: prepare(params, consts) -> {what: (ctype, values)} of
    # extra constant arrays (reordered weights, packed per-channel constants); it may also set
    # params["scratch_bytes"] to get a scratch buffer planned in the arena for this layer.
    prepare: callable = None


VARIANTS: dict[str, list[Variant]] = {}


def register_variant(kernel: str, variant: Variant):
    VARIANTS.setdefault(kernel, []).insert(0, variant)


@dataclass
class KernelSelector:
    features: frozenset = field(default_factory=frozenset)
    portable_only: bool = False
    # node name -> how many fitting variants to pass over (a leaner one, e.g. with less scratch,
    # for a layer that sets the arena's peak); `node` is the node being built
    skip: dict = field(default_factory=dict)
    node: str | None = None
    # node name -> scratch bytes its kernel variant may take (codegen/c/slack.py; a variant's prepare
    # reads it as params["scratch_budget"])
    scratch_budget: dict = field(default_factory=dict)

    def choose(self, kernel: str, params: dict | None = None) -> Variant:
        """The Variant that runs `kernel` for these parameters (the portable one if none fits)."""
        if not self.portable_only:
            passed = self.skip.get(self.node, 0)
            for v in VARIANTS.get(kernel, []):
                if v.requires <= self.features and not (v.excludes & self.features) and (v.accepts is None or v.accepts(params or {})):
                    if passed == 0:
                        return v
                    passed -= 1
        return Variant(kernel, (f"{kernel}.c",))

    def pick(self, kernel: str, params: dict | None = None) -> tuple[str, list[str]]:
        v = self.choose(kernel, params)
        return v.function, list(v.sources)


def scratch_budget_into(ctx, params: dict):
    """params["scratch_budget"] for a variant's prepare: the scratch bytes the node's kernel may take
    where codegen/c/slack.py raised it (absent otherwise)."""
    budget = ctx.select.scratch_budget.get(ctx.select.node)
    if budget is not None:
        params["scratch_budget"] = budget


def prepare_arrays(ctx, cid: str, variant: Variant, params: dict, consts: dict, arrays: list) -> list:
    """Run a variant's compile-time preparation and return the layer's constant arrays: the extra
    ones it asked for (named <cid>_<what>; params["packed"] lists them for the template) added,
    those it named in params["drop"] (e.g. int8 weights it replaced by a reordered copy) removed."""
    if variant.prepare is None:
        return arrays
    scratch_budget_into(ctx, params)
    extra = variant.prepare(params, consts) or {}
    params["packed"] = sorted(extra)
    drop = {f"{cid}_{what}" for what in params.get("drop", ())}
    return [a for a in arrays if a.name not in drop] + \
        [ctx.array(cid, what, ctype, values) for what, (ctype, values) in sorted(extra.items())]
