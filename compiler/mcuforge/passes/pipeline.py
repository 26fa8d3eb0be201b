"""Pipelines: ordered lists of passes."""
from ..ir.graph import Graph
from ..ir.ops import infer_shapes
from .fold_batchnorm import fold_batchnorm
from .fold_constants import fold_constants
from .fuse_activation import fuse_activation
from .fuse_elementwise import fuse_elementwise
from .merge_slices import merge_slices
from .remove_dead_nodes import remove_dead_nodes
from .simplify_layout import simplify_layout

# Float-level clean-up every model goes through, whatever its format or target.
CANONICALIZE = [fold_constants, fold_batchnorm, fuse_elementwise, fuse_activation, simplify_layout, merge_slices,
                remove_dead_nodes]


def run_passes(g: Graph, passes) -> Graph:
    for p in passes:
        g = p(g)
        infer_shapes(g)
    return g


def canonicalize(g: Graph) -> Graph:
    return run_passes(g, CANONICALIZE)
