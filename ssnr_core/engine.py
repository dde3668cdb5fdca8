"""Batched synflow for NAS-Bench-201: many architectures in one forward and backward.

Scoring one small network at a time is overhead-bound (batch-1 convolutions, float64
im2col), so this engine scores a batch of architectures together. It relies on four
facts about synflow on NAS-Bench-201:

1. The network is linear. Weights are made non-negative, BatchNorm is bypassed and
   the input is all ones, so every activation is >= 0 and every ReLU is the identity:
   the engine leaves ReLUs out, and the network is positively homogeneous of degree 1
   in its input (scaling the input by c scales the output and every saliency by c).
2. Modules are seeded per slot (`spaces.modules`), so the op on edge e of cell k has
   the same weights in every architecture that has it. One batch then holds one
   architecture per sample: each edge applies each of its ops to the samples (archs)
   that have it (`index_select`), and each node sums its edges (`index_add_`).
3. Per-architecture saliency needs per-sample weight gradients. Autograd gives
   the per-sample gradient g_b of R with respect to each convolution's output (samples
   never mix); the weight gradient of sample b is the correlation of that
   convolution's input with g_b (unfold, then a batched matmul), and the saliency is
   |W| times it. Counts, sums and M2 per layer and arch come out of the same batch.
4. An edge off every input-to-output path of the cell (`nb201.live_edges`) has exactly
   zero saliency and does not change the output, so it is not computed (its layer
   keeps its count, sum 0, M2 0); an architecture whose output is cut off from its
   input is all zero; architectures that differ only in such edges share one result.

Range: float32 overflows here (outputs reach 1e48). By (1) the input is scaled by
2^-70 and, per architecture, the backward pass is seeded with 2^-e, e the binary
exponent of that architecture's output, which keeps activations, gradients and
saliencies far from both ends of the float32 range. Both are powers of two, so the
scaling itself is exact; it is undone in float64. In float64 the same code gives the
reference results. Results do not depend on the batch: every sample is computed on its own,
and only floating-point summation order may differ with the batch's composition.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from ssnr_core.saliency import SYNFLOW_INPUT_EXP
from ssnr_core.spaces import nb201
from ssnr_core.spaces.modules import SeededModules

BATCH = 32  # architectures per forward/backward (measured fastest on the 2-core CPU)
CONVS = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}  # op -> kernel size


@dataclass(frozen=True)
class Weights:
    """|W| of every slot (stem, cell edges, reduction blocks, classifier) of one seed."""

    by_slot: dict[str, torch.Tensor]

    def __getitem__(self, slot: str) -> torch.Tensor:
        return self.by_slot[slot]


@lru_cache(maxsize=8)
def slot_weights(seed: int, task: str, device: str, dtype: torch.dtype) -> Weights:
    """The absolute weights of every slot, built once per process and setting from the
    same seeded modules (and builders) as `nb201.Network`, so they are the same numbers."""
    make = SeededModules(seed, device=device, dtype=dtype)
    c = 16
    stem = nb201.make_stem(make, c)
    w = {"stem": stem[0].weight}
    for name, width in nb201.body(c):
        if name.startswith("cell"):
            for edge in nb201.EDGES:
                for op in CONVS:
                    relu_conv_bn = nb201.make_edge(make, name, edge, op, width)
                    w[_edge_slot(name, edge, op)] = relu_conv_bn[1].weight
        else:
            block = nb201.make_reduce(make, name, width)
            w[f"{name}.conv_a"] = block.conv_a[1].weight
            w[f"{name}.conv_b"] = block.conv_b[1].weight
            w[f"{name}.downsample"] = block.downsample[1].weight
    w["classifier"] = nb201.make_classifier(make, nb201.TASKS[task], c).weight
    return Weights({k: v.detach().abs() for k, v in w.items()})


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
    transposed network, written out here: no autograd graph, and gradients of nodes
    that several edges feed are summed in place."""
    weights = slot_weights(seed, task, device, dtype)
    size = len(archs)
    groups = [_edge_groups(archs, e, device) for e in range(len(nb201.EDGES))]
    x = torch.full(
        (size, 3, *nb201.input_shape(task)[1:]), 2.0**SYNFLOW_INPUT_EXP, dtype=dtype, device=device
    )
    blocks: list[tuple[str, list[torch.Tensor]]] = []  # what each block's backward needs
    h = _conv(x, weights["stem"])
    for name, _ in nb201.body():
        if name.startswith("reduce"):
            a = _conv(h, weights[f"{name}.conv_a"], stride=2)
            pooled = F.avg_pool2d(h, 2, stride=2)
            blocks.append((name, [h, a, pooled]))
            h = _conv(a, weights[f"{name}.conv_b"]) + _conv(pooled, weights[f"{name}.downsample"])
        else:
            nodes = [_Sum(h)]
            inputs: list[torch.Tensor] = []  # the input of each edge op, in `groups` order
            for e, (to, frm) in enumerate(nb201.EDGES):
                if to == len(nodes):
                    nodes.append(_Sum(None))
                for op, idx in groups[e]:
                    src = nodes[frm].value if idx is None else nodes[frm].value.index_select(0, idx)
                    inputs.append(src)
                    if op in CONVS:
                        y = _conv(src, weights[_edge_slot(name, (to, frm), op)])
                    elif op == "avg_pool_3x3":
                        y = _box_sum(src) * _inverse_counts(*src.shape[2:], dtype, x.device)
                    else:
                        y = src
                    nodes[to].add(y, idx, size)
            blocks.append((name, inputs))
            h = nodes[3].value
    pooled = h.mean(dim=(2, 3))
    w_cls = weights["classifier"]
    # Seed each arch's backward with 2^-e, e the exponent of its output: see "Range".
    exponent = torch.frexp((pooled @ w_cls.T).sum(1)).exponent
    seed_grad = torch.ldexp(torch.ones_like(pooled[:, :1]), -exponent[:, None])
    rows = [("classifier", None, _linear_sum_m2(pooled, seed_grad.expand(-1, len(w_cls)), w_cls))]

    def weight_layer(
        slot: str,
        x: torch.Tensor,
        g: torch.Tensor,
        idx: torch.Tensor | None = None,
        stride: int = 1,
    ) -> torch.Tensor:
        """Record the layer's statistics; return the gradient of its input."""
        w = weights[slot]
        rows.append((slot, idx, _conv_sum_m2(x, g, w, stride)))
        return torch.nn.grad.conv2d_input(x.shape, w, g, stride, w.shape[-1] // 2)

    g = (seed_grad * w_cls.sum(0) / h[0, 0].numel())[:, :, None, None].expand_as(h).contiguous()
    for name, saved in reversed(blocks):
        if name.startswith("reduce"):
            h_in, a, pooled = saved
            g_a = weight_layer(f"{name}.conv_b", a, g)
            g_pooled = weight_layer(f"{name}.downsample", pooled, g)
            g = weight_layer(f"{name}.conv_a", h_in, g_a, stride=2)
            g = g + F.interpolate(g_pooled, scale_factor=2.0) * 0.25  # 2x2 mean, transposed
            continue
        grads = [_Sum(None), _Sum(None), _Sum(None), _Sum(g)]
        inputs = iter(reversed(saved))
        for e in reversed(range(len(nb201.EDGES))):
            to, frm = nb201.EDGES[e]
            for op, idx in reversed(groups[e]):
                src = next(inputs)
                g_y = grads[to].value if idx is None else grads[to].value.index_select(0, idx)
                if op in CONVS:
                    g_y = weight_layer(_edge_slot(name, (to, frm), op), src, g_y, idx)
                elif op == "avg_pool_3x3":
                    g_y = _box_sum(g_y * _inverse_counts(*g_y.shape[2:], dtype, x.device))
                grads[frm].add(g_y, idx, size)
        g = grads[0].value
    rows.append(("stem", None, _conv_sum_m2(x, g, weights["stem"], 1)))

    # The scaling to undo, per arch, in float64: 2^(exponent - SYNFLOW_INPUT_EXP).
    undo = torch.ldexp(
        torch.ones(size, dtype=torch.float64, device=device), exponent - SYNFLOW_INPUT_EXP
    )
    result: list[dict[str, tuple[float, float]]] = [{} for _ in archs]
    for slot, idx, stats in rows:
        samples = torch.arange(size, device=device) if idx is None else idx
        scale = undo[samples]
        stats = (stats.double() * torch.stack([scale, scale.square()], 1)).cpu().tolist()
        for b, (total, m2) in zip(samples.tolist(), stats):
            result[b][slot] = (total, m2)
    return result


def _edge_groups(
    archs: list[nb201.Arch], e: int, device: str
) -> list[tuple[str, torch.Tensor | None]]:
    """The ops on edge e in the batch, each with the samples that have it (None: all)."""
    out = []
    for op in sorted({a[e] for a in archs} - {"none"}):
        have = [b for b, a in enumerate(archs) if a[e] == op]
        out.append((op, None if len(have) == len(archs) else torch.tensor(have, device=device)))
    return out


class _Sum:
    """A node's value (or gradient) as edges add into it, some on a subset of samples.
    It adds in place only into a tensor it allocated: a first full-batch term may be
    another node's tensor (a skip edge), which must not change."""

    def __init__(self, value: torch.Tensor | None) -> None:
        self.value, self.owned = value, False

    def add(self, y: torch.Tensor, idx: torch.Tensor | None, size: int) -> None:
        if self.value is None and idx is None:
            self.value = y
            return
        if self.value is None:
            self.value = y.new_zeros((size, *y.shape[1:]))
        elif not self.owned:
            self.value = self.value.clone()
        self.owned = True
        if idx is None:
            self.value.add_(y)
        else:
            self.value.index_add_(0, idx, y)


def _conv(x: torch.Tensor, w: torch.Tensor, stride: int = 1) -> torch.Tensor:
    return F.conv2d(x, w, stride=stride, padding=w.shape[-1] // 2)


def _box_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum over each 3x3 window (zero padding) as a depthwise conv: with `_inverse_counts`
    it is `avg_pool2d(x, 3, 1, 1, count_include_pad=False)`, about 10x faster on CPU at
    these sizes, and its own transpose (the kernel is symmetric)."""
    c = x.shape[1]
    return F.conv2d(x, x.new_ones((c, 1, 3, 3)), padding=1, groups=c)


@lru_cache(maxsize=16)
def _inverse_counts(h: int, w: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """1 / (number of in-image pixels of each 3x3 window)."""
    return 1 / _box_sum(torch.ones((1, 1, h, w), dtype=dtype, device=device))


def _conv_sum_m2(x: torch.Tensor, g: torch.Tensor, w: torch.Tensor, stride: int) -> torch.Tensor:
    """(samples, 2): sum and M2 of |W| · dR/dW per sample, from the conv's input x and
    the gradient g of its output. Sample b's weight gradient is x_b ⋆ g_b: a matmul for
    1x1 convs, else the weight gradient of one grouped conv with a group per sample."""
    n, (co, ci, k, _) = x.shape[0], w.shape
    if k == 1:
        grad = torch.bmm(g.flatten(2), x.flatten(2).transpose(1, 2))
    else:
        grad = torch.nn.grad.conv2d_weight(
            x.reshape(1, n * ci, *x.shape[2:]),
            (n * co, ci, k, k),
            g.reshape(1, n * co, *g.shape[2:]),
            stride,
            k // 2,
            groups=n,
        )
    sal = grad.reshape(n, co, -1).mul_(w.reshape(1, co, -1))
    return _stats(sal.flatten(1))


def _linear_sum_m2(x: torch.Tensor, g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return _stats((g[:, :, None] * x[:, None, :]).mul_(w).flatten(1))


def _stats(sal: torch.Tensor) -> torch.Tensor:
    """Two-pass sum and M2 of each row, as `aggregation.layer_stats` computes them."""
    total = sal.sum(1)
    m2 = (sal - (total / sal.shape[1])[:, None]).square_().sum(1)
    return torch.stack([total, m2], 1)


def chunks(archs: Sequence[str], size: int = BATCH) -> Iterator[list[str]]:
    """`archs` in batches, architectures with the same live arch next to each other (so
    they share a result) and similar ones together (so edges split into fewer groups)."""
    order = sorted(archs, key=lambda a: live_arch(nb201.parse(a)))
    for start in range(0, len(order), size):
        yield order[start : start + size]
