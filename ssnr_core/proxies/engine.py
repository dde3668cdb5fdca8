"""Batched synflow for NAS-Bench-201: many architectures in one forward and backward.

Scoring one small network at a time is overhead-bound (batch-1 convolutions, float64
im2col), so this engine scores a batch of architectures together. It relies on four
facts about synflow on NAS-Bench-201:

1. The network is linear. Weights are made non-negative, BatchNorm is bypassed and
   the input is all ones, so every activation is >= 0 and every ReLU is the identity:
   the engine leaves ReLUs out, and its backward pass is the transposed network,
   written out here (transposed convolutions, pools and node sums; no autograd).
2. Modules are seeded per slot (`spaces.modules`), so the op on edge e of cell k has
   the same weights in every architecture that has it. One batch then holds one
   architecture per sample: each edge applies each of its ops to the samples (archs)
   that have it, and each node sums its edges. Batches are sorted (`chunks`), so most
   of these sample groups are contiguous runs of the batch: views, not copies.
3. Samples never mix, so the backward pass gives each arch's own gradient g_b at every
   convolution's output. The weight gradient of arch b is its input x_b correlated
   with g_b, computed for the whole batch as the weight gradient of one grouped
   convolution with a group per sample (a batched matmul for 1x1 convs); |W| times it
   is the saliency, reduced to (count, sum, M2) per layer and arch on the spot.
4. An edge off every input-to-output path of the cell (`nb201.live_edges`) has exactly
   zero saliency and does not change the output, so it is not computed (its layer
   keeps its count, sum 0, M2 0); an architecture whose output is cut off from its
   input is all zero; architectures that differ only in such edges share one result.

Range: outputs reach 1e48 and float32 ends at 3e38. The input is 2^-70 instead of 1
(by 1 the network is positively homogeneous of degree 1 in its input, so everything
scales by 2^-70) and each arch's backward pass is seeded with 2^-e, e the binary
exponent of its output, so activations, gradients and saliencies stay far from both
ends of the float32 range. Both are powers of two, so the scaling is exact; it is
undone in float64. The same code in float64 gives the reference loop's numbers to
1e-14. An arch's results do not depend on the rest of its batch beyond the order of
floating-point sums (about 1e-7 in float32).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssnr_core.proxies.saliency import SYNFLOW_INPUT_EXP
from ssnr_core.spaces import nb201
from ssnr_core.spaces.layers import ReLUConvBN
from ssnr_core.spaces.modules import SeededModules

BATCH = 64  # archs per pass: 32-96 measured within 8% on the 2-core CPU, 64 fastest
CONVS = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}  # op -> kernel size


@functools.lru_cache(maxsize=8)
def slot_weights(seed: int, task: str, device: str, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """|W| of every slot (stem, cell edges, reduction blocks, classifier), built once per
    process and setting from the same seeded modules and builders as `nb201.Network`,
    so they are the same numbers."""
    make = SeededModules(seed, device=device, dtype=dtype)
    c = 16
    stem = nb201.make_stem(make, c)
    w: dict[str, torch.Tensor] = {"stem": cast(nn.Conv2d, stem[0]).weight}
    for name, width in nb201.body(c):
        if name.startswith("cell"):
            for edge in nb201.EDGES:
                for op in CONVS:
                    relu_conv_bn = cast(ReLUConvBN, nb201.make_edge(make, name, edge, op, width))
                    w[_edge_slot(name, edge, op)] = cast(nn.Conv2d, relu_conv_bn[1]).weight
        else:
            block = nb201.make_reduce(make, name, width)
            w[f"{name}.conv_a"] = cast(nn.Conv2d, block.conv_a[1]).weight
            w[f"{name}.conv_b"] = cast(nn.Conv2d, block.conv_b[1]).weight
            w[f"{name}.downsample"] = cast(nn.Conv2d, block.downsample[1]).weight
    w["classifier"] = nb201.make_classifier(make, nb201.TASKS[task], c).weight
    return {k: v.detach().abs() for k, v in w.items()}


def _edge_slot(cell: str, edge: tuple[int, int], op: str) -> str:
    return f"{cell}.{edge[0]}<-{edge[1]}.{op}"


def layers(arch: nb201.Arch, task: str) -> list[tuple[str, int]]:
    """(slot, number of weights) of every weight layer of `arch`, in the order of
    `saliency.weight_layers` on the built network (the cached stats' row order)."""
    c, rows = 16, [("stem", 3 * 16 * 9)]
    for name, width in nb201.body(c):
        if name.startswith("cell"):
            rows += [
                (_edge_slot(name, edge, op), width * width * CONVS[op] ** 2)
                for edge, op in zip(nb201.EDGES, arch)
                if op in CONVS
            ]
        else:
            half = width // 2
            rows += [
                (f"{name}.conv_a", half * width * 9),
                (f"{name}.conv_b", width * width * 9),
                (f"{name}.downsample", half * width),
            ]
    return [*rows, ("classifier", nb201.TASKS[task] * 4 * c)]


def live_arch(arch: nb201.Arch) -> nb201.Arch:
    """`arch` with every edge that cannot affect the output set to `none`: archs with
    the same live arch have the same saliency on every layer they share."""
    return tuple(op if live else "none" for op, live in zip(arch, nb201.live_edges(arch)))


def synflow_stats(
    archs: Sequence[nb201.Arch],
    task: str,
    seed: int,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    batch: int = BATCH,
) -> list[np.ndarray]:
    """(L, 3) statistics (count, sum, M2) of synflow for each arch, as
    `aggregation.layer_stats` of `saliency.synflow` on the built network gives them."""
    live = [live_arch(a) for a in archs]
    todo = sorted({a for a in live if any(op != "none" for op in a)})
    found: dict[nb201.Arch, dict[str, tuple[float, float]]] = {}
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        found.update(zip(chunk, _batch_sums(chunk, task, seed, device, dtype)))
    out = []
    for arch, key in zip(archs, live):
        sums = found.get(key, {})
        out.append(np.array([(n, *sums.get(slot, (0.0, 0.0))) for slot, n in layers(arch, task)]))
    return out


def _batch_sums(
    archs: list[nb201.Arch], task: str, seed: int, device: str, dtype: torch.dtype
) -> list[dict[str, tuple[float, float]]]:
    """{slot: (sum, M2)} of every live weight layer of each (connected, live) arch.

    The network is linear (see the module docstring), so its backward pass is the
    transposed network, written out here: no autograd graph to build, and each node's
    gradient is summed once from its outgoing edges."""
    weights = slot_weights(seed, task, device, dtype)
    size = len(archs)
    groups = [_edge_groups(archs, e, device) for e in range(len(nb201.EDGES))]
    x = torch.full(
        (size, 3, *nb201.input_shape(task)[1:]), 2.0**SYNFLOW_INPUT_EXP, dtype=dtype, device=device
    )
    windows: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def pool(t: torch.Tensor, transposed: bool = False) -> torch.Tensor:
        """avg_pool2d(t, 3, 1, 1, count_include_pad=False), or its transpose, as
        T @ t @ T with T the tridiagonal ones matrix (T @ t @ T sums each 3x3 window, zero
        padded), times 1 / each window's pixel count: matmuls, 5x faster than CPU
        avg_pool2d at these sizes, and exact up to summation order."""
        n = t.shape[-1]
        if n not in windows:
            ones = t.new_ones((n, n))
            tri = ones.triu(-1).tril(1)
            windows[n] = tri, 1 / (tri @ ones @ tri)
        tri, inv_count = windows[n]
        return tri @ (t * inv_count) @ tri if transposed else tri @ t @ tri * inv_count

    blocks: list[tuple[str, list[torch.Tensor]]] = []  # what each block's backward needs
    h = _conv(x, weights["stem"])
    for name, _ in nb201.body():
        if name.startswith("reduce"):
            a = _conv(h, weights[f"{name}.conv_a"], stride=2)
            pooled = F.avg_pool2d(h, 2, stride=2)
            blocks.append((name, [h, a, pooled]))
            h = _conv(a, weights[f"{name}.conv_b"]) + _conv(pooled, weights[f"{name}.downsample"])
            continue
        nodes: list[torch.Tensor | None] = [h]
        inputs: list[torch.Tensor] = []  # the input of each edge op, in `groups` order
        for to in (1, 2, 3):
            terms: list[tuple[torch.Tensor, Selection]] = []
            for e, (dst, frm) in enumerate(nb201.EDGES):
                for group in groups[e] if dst == to else ():
                    node = nodes[frm]
                    assert node is not None  # a live edge starts at a node with live inputs
                    src = group.take(node)
                    inputs.append(src)
                    if group.op in CONVS:
                        y = _conv(src, weights[_edge_slot(name, (to, frm), group.op)])
                    else:
                        y = pool(src) if group.op == "avg_pool_3x3" else src
                    terms.append((y, group.sel))
            nodes.append(_sum_terms(terms, size))
        blocks.append((name, inputs))
        out = nodes[3]
        assert out is not None  # every arch in the batch is connected
        h = out
    pooled = h.mean(dim=(2, 3))
    w_cls = weights["classifier"]
    # Seed each arch's backward with 2^-e, e the exponent of its output: see "Range".
    exponent = torch.frexp((pooled @ w_cls.T).sum(1)).exponent
    seed_grad = torch.ldexp(torch.ones_like(pooled[:, :1]), -exponent[:, None])
    rows: list[tuple[str, list[int] | None, torch.Tensor]] = [
        ("classifier", None, _linear_sum_m2(pooled, seed_grad.expand(-1, len(w_cls)), w_cls))
    ]

    def weight_layer(
        slot: str,
        x: torch.Tensor,
        g: torch.Tensor,
        samples: list[int] | None = None,
        stride: int = 1,
    ) -> torch.Tensor:
        """Record the layer's statistics; return the gradient of its input."""
        rows.append((slot, samples, _conv_sum_m2(x, g, weights[slot], stride)))
        return _conv_transposed(g, x, weights[slot], stride)

    g = (seed_grad * w_cls.sum(0) / h[0, 0].numel())[:, :, None, None].expand_as(h).contiguous()
    for name, saved in reversed(blocks):
        if name.startswith("reduce"):
            h_in, a, pooled = saved
            g_a = weight_layer(f"{name}.conv_b", a, g)
            g_pooled = weight_layer(f"{name}.downsample", pooled, g)
            g = weight_layer(f"{name}.conv_a", h_in, g_a, stride=2)
            g = g + F.interpolate(g_pooled, scale_factor=2.0) * 0.25  # 2x2 mean, transposed
            continue
        grads: dict[int, torch.Tensor | None] = {3: g}
        g_terms: dict[int, list[tuple[torch.Tensor, Selection]]] = {0: [], 1: [], 2: []}
        saved_inputs = iter(reversed(saved))
        for e in reversed(range(len(nb201.EDGES))):  # every edge out of a node before any in
            to, frm = nb201.EDGES[e]
            if to not in grads:
                grads[to] = _sum_terms(g_terms[to], size)
            g_to = grads[to]
            for group in reversed(groups[e]):
                assert g_to is not None  # a live edge ends at a node with live outputs
                src, g_y = next(saved_inputs), group.take(g_to)
                if group.op in CONVS:
                    slot = _edge_slot(name, (to, frm), group.op)
                    g_y = weight_layer(slot, src, g_y, group.samples)
                elif group.op == "avg_pool_3x3":
                    g_y = pool(g_y, transposed=True)
                g_terms[frm].append((g_y, group.sel))
        g_in = _sum_terms(g_terms[0], size)
        assert g_in is not None  # every arch in the batch is connected
        g = g_in
    rows.append(("stem", None, _conv_sum_m2(x, g, weights["stem"], 1)))

    # The scaling to undo, per arch, in float64: 2^(exponent - SYNFLOW_INPUT_EXP).
    undo = torch.ldexp(
        torch.ones(size, dtype=torch.float64, device=device), exponent - SYNFLOW_INPUT_EXP
    ).cpu()
    result: list[dict[str, tuple[float, float]]] = [{} for _ in archs]
    for slot, samples, stats in rows:
        samples = list(range(size)) if samples is None else samples
        scale = undo[samples]
        scaled = (stats.cpu().double() * torch.stack([scale, scale.square()], 1)).tolist()
        for b, (total, m2) in zip(samples, scaled):
            result[b][slot] = (total, m2)
    return result


Selection = slice | torch.Tensor | None  # a batch's samples: a contiguous run, an index, all


@dataclass(frozen=True)
class _Group:
    """The samples of a batch that have `op` on one edge."""

    op: str
    samples: list[int]
    sel: Selection

    def take(self, t: torch.Tensor) -> torch.Tensor:
        if self.sel is None or isinstance(self.sel, slice):
            return t if self.sel is None else t[self.sel]  # a view: no copy
        return t.index_select(0, self.sel)


def _edge_groups(archs: list[nb201.Arch], e: int, device: str) -> list[_Group]:
    """The ops on edge e in the batch, each with the samples that have it. Batches are
    sorted (`chunks`), so many groups are contiguous runs: views instead of copies."""
    out = []
    for op in sorted({a[e] for a in archs} - {"none"}):
        have = [b for b, a in enumerate(archs) if a[e] == op]
        if len(have) == len(archs):
            sel: Selection = None
        elif have[-1] - have[0] == len(have) - 1:
            sel = slice(have[0], have[-1] + 1)
        else:
            sel = torch.tensor(have, device=device)
        out.append(_Group(op, have, sel))
    return out


def _sum_terms(terms: list[tuple[torch.Tensor, Selection]], size: int) -> torch.Tensor | None:
    """The sum of terms that each cover some samples (None: no term). Full-batch terms
    start the sum, so zeros are only written when no term covers every sample."""
    full = [y for y, sel in terms if sel is None]
    parts = [(y, sel) for y, sel in terms if sel is not None]
    if not parts:
        return functools.reduce(torch.add, full) if full else None
    if full:
        total = functools.reduce(torch.add, full) if len(full) > 1 else full[0].clone()
    else:
        total = parts[0][0].new_zeros((size, *parts[0][0].shape[1:]))
    for y, sel in parts:
        if isinstance(sel, slice):
            total[sel] += y
        else:
            total.index_add_(0, sel, y)
    return total


def _conv(x: torch.Tensor, w: torch.Tensor, stride: int = 1) -> torch.Tensor:
    if w.shape[-1] == 1 and stride == 1:  # a matmul: faster than a 1x1 convolution
        return (w.flatten(1) @ x.flatten(2)).view(x.shape[0], w.shape[0], *x.shape[2:])
    return F.conv2d(x, w, stride=stride, padding=w.shape[-1] // 2)


def _conv_transposed(
    g: torch.Tensor, x: torch.Tensor, w: torch.Tensor, stride: int
) -> torch.Tensor:
    """The gradient of a conv's input x from the gradient g of its output."""
    if w.shape[-1] == 1 and stride == 1:
        return (w.flatten(1).T @ g.flatten(2)).view(x.shape)
    pad = w.shape[-1] // 2
    mask = [True, False, False]
    conv_backward = torch.ops.aten.convolution_backward
    return conv_backward(g, x, w, None, [stride] * 2, [pad] * 2, [1, 1], False, [0, 0], 1, mask)[0]


def _conv_sum_m2(x: torch.Tensor, g: torch.Tensor, w: torch.Tensor, stride: int) -> torch.Tensor:
    """(samples, 2): sum and M2 of |W| · dR/dW per sample, from the conv's input x and
    the gradient g of its output. Sample b's weight gradient is x_b ⋆ g_b: a matmul for
    1x1 convs, else the weight gradient of one grouped conv with a group per sample."""
    n, (co, ci, k, _) = x.shape[0], w.shape
    if k == 1:
        grad = torch.bmm(g.flatten(2), x.flatten(2).transpose(1, 2))
    else:
        grad = torch.ops.aten.convolution_backward(
            g.reshape(1, n * co, *g.shape[2:]),
            x.reshape(1, n * ci, *x.shape[2:]),
            w.new_empty((n * co, ci, k, k)),  # only its shape is read
            None,
            [stride, stride],
            [k // 2, k // 2],
            [1, 1],
            False,
            [0, 0],
            n,
            [False, True, False],
        )[1]
    sal = grad.reshape(n, co, -1).mul_(w.reshape(1, co, -1))
    return _stats(sal.flatten(1))


def _linear_sum_m2(x: torch.Tensor, g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return _stats((g[:, :, None] * x[:, None, :]).mul_(w).flatten(1))


def _stats(sal: torch.Tensor) -> torch.Tensor:
    """Two-pass sum and M2 of each row, as `aggregation.layer_stats` computes them
    (in place: `sal` is scratch)."""
    total = sal.sum(1)
    m2 = sal.sub_((total / sal.shape[1])[:, None]).square_().sum(1)
    return torch.stack([total, m2], 1)


def chunks(archs: Sequence[str], size: int = BATCH) -> Iterator[list[str]]:
    """`archs` in batches, architectures with the same live arch next to each other (so
    they share a result) and similar ones together (so edges split into fewer groups)."""
    order = sorted(archs, key=lambda a: live_arch(nb201.parse(a)))
    for start in range(0, len(order), size):
        yield order[start : start + size]
