"""Receptive-field propagation (schedule/receptive_field.py) against a brute-force oracle: perturb
one input pixel of a float graph, see which output pixels change; the input box the propagation
gives for an output pixel (clipped to the input) must be the bounding box of the pixels that
change it, for odd sizes, stride 2, dilation 2, asymmetric padding, explicit pads, pooling and a
residual block."""
import numpy as np
import pytest

from mcuforge.errors import UnsupportedOpError
from mcuforge.reference.executor import Executor
from mcuforge.schedule.receptive_field import Box, backward, patchable

from patch_graphs import Builder


def _stride2_asym():
    b = Builder(11, 9, 2)
    b.conv(3, 3, stride=2, pads=(0, 1, 1, 0))
    b.conv(2, (3, 1), pads=(2, 0, 0, 0))
    return b.finish()


def _dilated_depthwise():
    b = Builder(13, 10, 3)
    b.conv(3, 3, dil=2, pads=(2, 2, 2, 2), groups=3)
    b.conv(4, 1)
    return b.finish()


def _pools_and_pad():
    b = Builder(12, 11, 2)
    b.pool("maxpool", 3, stride=2, pads=(1, 1, 1, 1))
    b.pad(1, 2, 0, 3)
    b.conv(2, 3, stride=1)
    b.pool("avgpool", 2, stride=2)
    return b.finish()


def _residual():
    b = Builder(9, 9, 3)
    x = b.conv(4, 3, stride=2, pads=(1, 1, 1, 1), relu=True)
    y = b.conv(4, 3, pads=(1, 1, 1, 1), relu=True)
    y = b.conv(4, 3, pads=(1, 1, 1, 1))
    s = b.binary("add", x, y)
    b.unary("relu", s)
    return b.finish()


def _dependencies(g):
    """dep[oy, ox] = set of input pixels whose perturbation changes output pixel (oy, ox)."""
    ex = Executor(g)
    _, h, w, c = g.tensors["x"].shape
    x = np.random.default_rng(1).uniform(-1, 1, (1, h, w, c)).astype(np.float32)
    base = ex.run({"x": x})[g.outputs[0]]
    dep = {}
    for iy in range(h):
        for ix in range(w):
            xp = x.copy()
            xp[0, iy, ix, :] += 100.0
            changed = np.argwhere(np.any(ex.run({"x": xp})[g.outputs[0]][0] != base[0], axis=-1))
            for oy, ox in changed:
                dep.setdefault((int(oy), int(ox)), []).append((iy, ix))
    return dep


def _bbox(pixels):
    ys, xs = zip(*pixels)
    return Box(min(ys), max(ys) + 1, min(xs), max(xs) + 1)


def _check(need: Box, touched: Box, slack: int):
    """need covers every touched pixel; exact without dilation, with dilation d the clipped window
    may begin or end on up to d-1 pixels the kernel's holes skip (it is still one window)."""
    assert need.y0 <= touched.y0 < need.y0 + slack and need.x0 <= touched.x0 < need.x0 + slack, (need, touched)
    assert need.y1 - slack < touched.y1 <= need.y1 and need.x1 - slack < touched.x1 <= need.x1, (need, touched)


@pytest.mark.parametrize("make,slack", [(_stride2_asym, 1), (_dilated_depthwise, 2), (_pools_and_pad, 1),
                                        (_residual, 1)])
def test_input_box_is_the_brute_force_bounding_box(make, slack):
    g = make()
    nodes = g.topo_order()
    _, oh, ow, _ = g.tensors[g.outputs[0]].shape
    _, h, w, _ = g.tensors["x"].shape
    dep = _dependencies(g)
    assert len(dep) == oh * ow
    for (oy, ox), pixels in dep.items():
        need = backward(g, nodes, {g.outputs[0]: Box(oy, oy + 1, ox, ox + 1)})
        _check(need["x"], _bbox(pixels), slack)
    # a range of rows and columns needs the hull of its pixels' boxes
    rng = np.random.default_rng(0)
    for _ in range(6):
        y0, x0 = int(rng.integers(0, oh)), int(rng.integers(0, ow))
        y1, x1 = int(rng.integers(y0 + 1, oh + 1)), int(rng.integers(x0 + 1, ow + 1))
        pix = [p for oy in range(y0, y1) for ox in range(x0, x1) for p in dep[(oy, ox)]]
        _check(backward(g, nodes, {g.outputs[0]: Box(y0, y1, x0, x1)})["x"], _bbox(pix), slack)


def test_border_sides_are_the_padding_a_patch_computes():
    g = _stride2_asym()
    conv = g.topo_order()[0]
    from mcuforge.schedule.receptive_field import input_ranges
    _, h, w, _ = g.tensors["x"].shape
    oh, ow = g.tensors[conv.outputs[0]].shape[1:3]
    # pads (top 0, left 1, bottom 1, right 0) on 11x9, stride 2: 5x4 output
    assert (oh, ow) == (5, 4)
    first = input_ranges(g, conv, Box(0, 2, 0, 2))[0]
    assert first == Box(0, 5, -1, 4)
    assert first.clip(h, w) == (Box(0, 5, 0, 4), (0, 1, 0, 0))     # left border only
    # the bottom padding row is never read: the last output row's window ends on the last row
    assert input_ranges(g, conv, Box(4, 5, 3, 4))[0] == Box(8, 11, 5, 8)
    inner = input_ranges(g, conv, Box(2, 4, 1, 3))[0]
    assert inner.clip(h, w)[1] == (0, 0, 0, 0)
    b = Builder(7, 7, 1)
    b.conv(1, 3, pads=(1, 1, 2, 2))
    g = b.finish()
    right = input_ranges(g, g.topo_order()[0], Box(6, 8, 5, 8))[0]
    assert right.clip(7, 7) == (Box(5, 7, 4, 7), (0, 0, 2, 2))     # bottom and right borders


def test_ops_that_cannot_be_patched_say_why():
    b = Builder(8, 8, 2)
    b.conv(4, 3, pads=(1, 1, 1, 1))
    b.pool("avgpool", 8)                          # global: its output is 1x1
    g = b.finish()
    gp = g.topo_order()[1]
    assert "global" in patchable(g, gp)
    with pytest.raises(UnsupportedOpError, match="avgpool.*patch by patch"):
        backward(g, g.topo_order(), {g.outputs[0]: Box(0, 1, 0, 1)})
    b = Builder(8, 8, 2)
    b.pad(1, 1, 1, 1)
    b.g.node("pad1").attrs["mode"] = "reflect"
    assert "reflect" in patchable(b.g, b.g.node("pad1"))
