"""NAS-Bench-101: NASLib's cell keys and the network NASLib scores them with.

A cell is a DAG of at most 7 vertices given by an upper-triangular adjacency matrix and
one op per vertex (vertex 0 is the input, the last the output). NASLib's key is the
flattened 7x7 matrix followed by the 7 op indices, 56 ints in all
(`nasbench101/conversions.py`, `convert_spec_to_tuple`), with NASLib's op order
0 input, 1 output, 2 maxpool3x3, 3 conv1x1-bn-relu, 4 conv3x3-bn-relu.

Before building, a cell is pruned as NAS-Bench-101's `ModelSpec` does: vertices that are
not on a path from input to output are dropped. The network is the one NASLib builds
(`nasbench_pytorch`'s `Network`): a 3x3 conv-BN-ReLU stem to 128 channels, three stacks of
three cells (128, 256, 512 channels) with a 2x2 max-pool before the second and third,
global average pool, Linear.

Channels inside a cell are split, not copied: the output is the concatenation of the
vertices that feed it, so each of those gets out/k channels (the first out % k one more);
any other vertex gets the largest width among the vertices it feeds; a vertex fed by
another wider one takes its first channels (truncation); every edge from the cell input
is a 1x1 conv-BN-ReLU projection to the width of its target, and an input->output edge
adds a projection to the full output width. This is where builders usually go wrong: with
it, every stored NASLib `params` matches (tests/test_nb101.py).

Weights are initialised as `nasbench_pytorch` does: conv N(0, 2/(k*k*c_out)), Linear
N(0, 0.01), zero biases, BatchNorm weight 1, bias 0.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any, TypeVar

import torch
from torch import nn

from ssnr_core.spaces.layers import check_task
from ssnr_core.spaces.modules import Factory, fresh
from ssnr_core.spaces.space import Space

NAME = "nb101"
VERTICES = 7
MAX_EDGES = 9
NASLIB_OPS = ("input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu")
INPUT, OUTPUT = 0, 1
CELL_OPS = (2, 3, 4)  # the ops an interior vertex may have
TASKS = {"cifar10": 10}
STEM_CHANNELS = 128
STACKS = 3
CELLS_PER_STACK = 3

Arch = tuple[int, ...]  # NASLib's 56 ints: 49 adjacency bits (row-major), then 7 ops


# ---------------------------------------------------------------- encodings


def parse(arch: Any) -> Arch:
    """Canonical arch from NASLib's key "(0, 1, ..., 4, 1)" (or the 56-int sequence), or a
    NAS-Bench-101 spec as JSON `{"matrix": [[...]], "ops": ["input", ..., "output"]}`
    (op names or NASLib indices); ValueError for anything else."""
    if isinstance(arch, str):
        text = arch.strip()
        if len(text) > 1000:
            raise ValueError(f"NB101 arch text too long ({len(text):,} chars)")
        try:
            if text.startswith("{"):
                arch = json.loads(text)
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    arch = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise ValueError(f"not a NB101 key or spec: {text[:80]!r}") from None
    if isinstance(arch, dict):
        return _from_spec(arch.get("matrix"), arch.get("ops"))
    if hasattr(arch, "tolist"):
        arch = arch.tolist()
    if not isinstance(arch, Sequence) or isinstance(arch, (str, bytes)):
        raise ValueError(f"a NB101 arch is NASLib's 56-int key, got {repr(arch)[:80]}")
    if len(arch) != VERTICES * VERTICES + VERTICES:
        raise ValueError(f"a NB101 key has {VERTICES * (VERTICES + 1)} ints, got {len(arch)}")
    n = VERTICES * VERTICES
    matrix = [list(arch[i : i + VERTICES]) for i in range(0, n, VERTICES)]
    return _from_spec(matrix, list(arch[n:]))


def _int(x: object, what: str) -> int:
    if not isinstance(x, numbers.Integral) or isinstance(x, bool):
        raise ValueError(f"NB101 {what} must be an int, got {repr(x)[:40]}")
    return int(x)


def _from_spec(matrix: object, ops: object) -> Arch:
    """Check a 7x7 matrix and 7 ops (names or indices) and return NASLib's key."""
    if not isinstance(matrix, Sequence) or len(matrix) != VERTICES:
        raise ValueError(f"NB101 matrix must be {VERTICES}x{VERTICES}")
    if not isinstance(ops, Sequence) or isinstance(ops, str) or len(ops) != VERTICES:
        raise ValueError(f"NB101 needs {VERTICES} ops (input, 5 interior, output)")
    bits: list[int] = []
    for i, row in enumerate(matrix):
        if not isinstance(row, Sequence) or isinstance(row, str) or len(row) != VERTICES:
            raise ValueError(f"NB101 matrix row {i} must have {VERTICES} entries")
        for j, b in enumerate(row):
            b = _int(b, f"matrix[{i}][{j}]")
            if b not in (0, 1) or (b and j <= i):
                raise ValueError(f"NB101 matrix must be 0/1 and upper triangular (at {i},{j})")
            bits.append(b)
    codes = [
        NASLIB_OPS.index(op) if isinstance(op, str) and op in NASLIB_OPS else _int(op, "op")
        for op in ops
    ]
    if codes[0] != INPUT or codes[-1] != OUTPUT:
        raise ValueError("NB101 ops must start with input (0) and end with output (1)")
    if any(c not in CELL_OPS for c in codes[1:-1]):
        raise ValueError(f"NB101 interior ops must be in {CELL_OPS} (maxpool, conv1x1, conv3x3)")
    arch = (*bits, *codes)
    spec = pruned(arch)
    if spec is None:
        raise ValueError("NB101 cell: no path from input to output")
    edges = sum(map(sum, spec[0]))
    if edges > MAX_EDGES:  # NASLib's keys are unpruned: only the pruned cell is limited
        raise ValueError(f"NB101 cells have at most {MAX_EDGES} edges once pruned, got {edges}")
    return arch


def to_str(arch: Arch) -> str:
    """NASLib's key, e.g. "(0, 1, 1, ..., 4, 1)"."""
    return "(" + ", ".join(str(v) for v in arch) + ")"


def matrix_ops(arch: Arch) -> tuple[list[list[int]], list[int]]:
    n = VERTICES * VERTICES
    return [list(arch[i : i + VERTICES]) for i in range(0, n, VERTICES)], list(arch[n:])


def pruned(arch: Arch) -> tuple[list[list[int]], list[int]] | None:
    """The matrix and ops of the vertices on some input->output path (NAS-Bench-101's
    `ModelSpec` pruning); None if the input does not reach the output."""
    matrix, ops = matrix_ops(arch)
    n = len(matrix)
    forward, backward = {0}, {n - 1}
    for v in range(1, n):
        if any(matrix[u][v] for u in forward if u < v):
            forward.add(v)
    for v in range(n - 2, -1, -1):
        if any(matrix[v][w] for w in backward if w > v):
            backward.add(v)
    keep = sorted(forward & backward)
    if 0 not in keep or n - 1 not in keep or len(keep) < 2:
        return None
    return [[matrix[i][j] for j in keep] for i in keep], [ops[i] for i in keep]


def vertex_channels(c_in: int, c_out: int, matrix: list[list[int]]) -> list[int]:
    """Width of every vertex of a pruned cell (NAS-Bench-101's `compute_vertex_channels`):
    the vertices feeding the output split `c_out` (the first `c_out % k` get one more);
    every other interior vertex gets the largest width among the vertices it feeds."""
    n = len(matrix)
    widths = [0] * n
    widths[0], widths[-1] = c_in, c_out
    if n == 2:
        return widths
    feeding = [v for v in range(1, n - 1) if matrix[v][n - 1]]
    share, extra = divmod(c_out, len(feeding))
    for i, v in enumerate(feeding):
        widths[v] = share + (1 if i < extra else 0)
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            widths[v] = max(widths[w] for w in range(v + 1, n - 1) if matrix[v][w])
    return widths


# ---------------------------------------------------------------- network


def input_shape(task: str) -> tuple[int, int, int]:
    check_task(TASKS, task, "NB101")
    return (3, 32, 32)


M = TypeVar("M", bound=nn.Module)


def _init(module: M) -> M:
    """nasbench_pytorch's init, applied where the module is built (so slots seed it)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / k))
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
    return module


def conv_bn_relu(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    return _init(
        nn.Sequential(
            nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
        )
    )


def make_op(op: int, c: int) -> nn.Module:
    if NASLIB_OPS[op] == "maxpool3x3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    return conv_bn_relu(c, c, 3 if NASLIB_OPS[op] == "conv3x3-bn-relu" else 1)


class Cell(nn.Module):
    """One NB101 cell on its pruned graph. Keys: `{name}.v{t}.{op}.{width}` for vertex ops,
    `{name}.in{t}.{c_in}-{width}` for the projections of the cell input."""

    def __init__(
        self,
        matrix: list[list[int]],
        ops: list[int],
        c_in: int,
        c_out: int,
        make: Factory,
        name: str,
    ) -> None:
        super().__init__()
        self.matrix = matrix
        n = len(matrix)
        self.widths = vertex_channels(c_in, c_out, matrix)
        self.ops = nn.ModuleList(
            nn.Identity()
            if t in (0, n - 1)
            else make(
                f"{name}.v{t}.{NASLIB_OPS[ops[t]]}.{self.widths[t]}",
                functools.partial(make_op, ops[t], self.widths[t]),
            )
            for t in range(n)
        )
        self.projections = nn.ModuleDict(
            {
                str(t): make(
                    f"{name}.in{t}.{c_in}-{self.widths[t]}",
                    functools.partial(conv_bn_relu, c_in, self.widths[t], 1),
                )
                for t in range(1, n)
                if matrix[0][t]
            }
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m = len(self.matrix), self.matrix
        nodes = [x]
        out = []
        for t in range(1, n - 1):
            width = self.widths[t]
            terms = [nodes[s][:, :width] for s in range(1, t) if m[s][t]]
            if m[0][t]:
                terms.append(self.projections[str(t)](x))
            nodes.append(self.ops[t](sum(terms[1:], terms[0])))
            if m[t][n - 1]:
                out.append(nodes[t])
        if not out:
            return self.projections[str(n - 1)](x)
        y = out[0] if len(out) == 1 else torch.cat(out, dim=1)
        if m[0][n - 1]:
            y = y + self.projections[str(n - 1)](x)
        return y


class Network(nn.Module):
    """Stem, 3 stacks x 3 cells (max-pool and doubled width between stacks), pool, Linear.
    Keys: `stem`, `s{stack}c{cell}...`, `classifier{n}`."""

    def __init__(self, arch: Arch, num_classes: int, make: Factory = fresh) -> None:
        super().__init__()
        spec = pruned(arch)
        if spec is None:
            raise ValueError("NB101 cell: no path from input to output")
        matrix, ops = spec
        c = STEM_CHANNELS
        layers: list[nn.Module] = [make("stem", lambda: conv_bn_relu(3, c, 3))]
        c_in = c
        for s in range(STACKS):
            if s > 0:
                layers.append(nn.MaxPool2d(2, stride=2))
                c *= 2
            for i in range(CELLS_PER_STACK):
                layers.append(Cell(matrix, ops, c_in, c, make, f"s{s}c{i}"))
                c_in = c
        self.layers = nn.Sequential(*layers)
        self.classifier = make(f"classifier{num_classes}", lambda: _init(nn.Linear(c, num_classes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.layers(x).mean(dim=(2, 3)))


def build(arch: Arch | str | Sequence, task: str = "cifar10", make: Factory = fresh) -> Network:
    """A NB101 network for `task`, nasbench_pytorch's init (modules from `make`)."""
    check_task(TASKS, task, "NB101")
    return Network(parse(arch), TASKS[task], make)


def ops(arch: Arch) -> tuple[str, ...]:
    """The op of every interior vertex that survives pruning."""
    spec = pruned(arch)
    return tuple(NASLIB_OPS[o] for o in (spec[1][1:-1] if spec else ()))


SPACE = Space(
    name=NAME,
    label="NAS-Bench-101",
    tasks=TASKS,
    parse=parse,
    to_str=to_str,
    build=build,
    input_shape=input_shape,
    ops=ops,
    examples=(
        "(0, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, "
        "0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 4, 4, 4, 1)",
    ),
    size=None,
    choices=NASLIB_OPS[2:],
)
