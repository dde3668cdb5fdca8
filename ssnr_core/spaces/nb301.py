"""NAS-Bench-301 (the DARTS space): genotypes and the network NASLib scores them with.

An architecture is two cells (normal, reduction). Each cell has two inputs (the outputs
of the two previous cells) and four intermediate nodes; node i sums two ops, each applied
to an earlier node, and the cell outputs the concatenation of all four nodes. NASLib's
compact key lists, per cell, eight `(input, op)` pairs: pairs 2i and 2i+1 feed node i;
input 0 and 1 are the cell inputs and input k >= 2 is node k - 2 (DARTS's own convention;
NASLib `nasbench301/conversions.py`, `convert_genotype_to_naslib`).

The network is NASLib's `NasBench301SearchSpace` as its zero-cost runs built it: C=32
(channels 32/64/128, NASLib's setting between commits b7d42a5 and a4412f1, autumn 2022;
its default is 16 again now, but only C=32 reproduces the stored `params` of all 725
NAS-Bench-Suite-Zero archs), stem multiplier 3, eight cells (reductions third and sixth),
1x1 ReLU-conv-BN or factorized-reduce preprocessing of the cell inputs, global pool +
Linear. Cell ops use non-affine BN and pooling is followed by BN, as in NASLib
(`nasbench301/graph.py`); the auxiliary head is left out because it never runs in eval
mode, so it is not in NASLib's parameter counts either.
"""

from __future__ import annotations

import ast
import functools
import numbers
import warnings
from collections.abc import Sequence
from typing import Any, TypeGuard

import torch
from torch import nn

from ssnr_core.spaces.layers import ReLUConvBN, check_task
from ssnr_core.spaces.modules import Factory, fresh
from ssnr_core.spaces.space import Space

NAME = "nb301"
# NASLib's op indices (`convert_compact_to_genotype`).
OPS = (
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
TASKS = {"cifar10": 10}

CONCAT = (2, 3, 4, 5)  # every intermediate node is a cell output in this space
PAIRS = 8
MAX_TEXT = 2000  # longest input text accepted before parsing

Pair = tuple[int, int]  # (input, op index)
Arch = tuple[tuple[Pair, ...], tuple[Pair, ...]]  # (normal, reduction)


# ---------------------------------------------------------------- encodings


def parse(arch: str | Sequence) -> Arch:
    """Canonical arch from NASLib's compact key (string or nested sequence), a DARTS
    `Genotype(...)` string, or a Genotype namedtuple; ValueError if malformed."""
    if isinstance(arch, str):
        text = arch.strip()
        if len(text) > MAX_TEXT:
            raise ValueError(f"NB301 arch text too long ({len(text)} chars)")
        if text.startswith("Genotype"):
            return _from_genotype(*_genotype_fields(text))
        try:
            with warnings.catch_warnings():  # "(1)(2)" warns "'int' object is not callable"
                warnings.simplefilter("ignore")
                arch = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise ValueError(f"not a NB301 compact genotype: {text[:80]!r}") from None
    if hasattr(arch, "normal") and hasattr(arch, "reduce"):
        return _from_genotype(
            arch.normal,
            getattr(arch, "normal_concat", CONCAT),
            arch.reduce,
            getattr(arch, "reduce_concat", CONCAT),
        )
    return _check_compact(arch)


def to_str(arch: Arch) -> str:
    """NASLib's key, e.g. "[[(0, 0), (1, 5), ...], [(1, 0), ...]]"."""
    cells = (", ".join(f"({i}, {o})" for i, o in cell) for cell in arch)
    return "[" + ", ".join(f"[{c}]" for c in cells) + "]"


def to_genotype_str(arch: Arch) -> str:
    """The DARTS `Genotype(...)` form of an arch."""
    normal, reduce = ([(OPS[o], i) for i, o in cell] for cell in arch)
    return (
        f"Genotype(normal={normal}, normal_concat={list(CONCAT)}, "
        f"reduce={reduce}, reduce_concat={list(CONCAT)})"
    )


def _check_compact(arch: object) -> Arch:
    if not _is_seq(arch) or len(arch) != 2:
        raise ValueError(f"a NB301 arch has two cells (normal, reduction), got {_short(arch)}")
    return _check_cell(arch[0], "normal"), _check_cell(arch[1], "reduction")


def _check_cell(cell: object, name: str) -> tuple[Pair, ...]:
    if not _is_seq(cell) or len(cell) != PAIRS:
        raise ValueError(f"NB301 {name} cell needs {PAIRS} (input, op) pairs, got {_short(cell)}")
    pairs = []
    for k, pair in enumerate(cell):
        if not _is_seq(pair) or len(pair) != 2 or not all(_is_int(v) for v in pair):
            raise ValueError(f"NB301 {name} cell pair {k} is not an (input, op) int pair: {pair!r}")
        inp, op = pair
        node = k // 2
        if not 0 <= op < len(OPS):
            raise ValueError(f"NB301 {name} cell pair {k}: op index {op} not in 0..{len(OPS) - 1}")
        if not 0 <= inp < node + 2:
            raise ValueError(f"NB301 {name} cell pair {k}: node {node} cannot take input {inp}")
        pairs.append((int(inp), int(op)))
    for node in range(PAIRS // 2):
        (a, _), (b, _) = pairs[2 * node : 2 * node + 2]
        if a == b:  # NB301 has none; NASLib would silently keep only one of the two edges
            raise ValueError(f"NB301 {name} cell node {node} takes input {a} twice")
    return tuple(pairs)


def _genotype_fields(text: str) -> tuple[object, object, object, object]:
    """normal, normal_concat, reduce, reduce_concat of a `Genotype(...)` string, read
    from its syntax tree (literals and `range(a, b)` only; nothing is evaluated)."""
    try:
        call = ast.parse(text, mode="eval").body
    except (SyntaxError, MemoryError, RecursionError):
        raise ValueError(f"malformed Genotype string: {text[:80]!r}") from None
    if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "Genotype"):
        raise ValueError(f"expected Genotype(...), got {text[:80]!r}")
    names = ("normal", "normal_concat", "reduce", "reduce_concat")
    if len(call.args) > len(names):
        raise ValueError("Genotype takes at most four fields")
    nodes = dict(zip(names, call.args))
    for kw in call.keywords:
        if kw.arg not in names or kw.arg in nodes:
            raise ValueError(f"unexpected or repeated Genotype field {kw.arg!r}")
        nodes[kw.arg] = kw.value
    if "normal" not in nodes or "reduce" not in nodes:
        raise ValueError("a Genotype needs both `normal` and `reduce`")
    values = {name: _literal(node) for name, node in nodes.items()}
    return (
        values["normal"],
        values.get("normal_concat", CONCAT),
        values["reduce"],
        values.get("reduce_concat", CONCAT),
    )


def _literal(node: ast.expr) -> object:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
        and not node.keywords
    ):
        bounds = [_literal(a) for a in node.args]
        if not 1 <= len(bounds) <= 2 or not all(_is_int(b) for b in bounds):
            raise ValueError("Genotype concat range(...) needs one or two ints")
        return tuple(range(*bounds))  # type: ignore[call-overload]  # ints, checked above
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ValueError(
            f"Genotype fields must be literals, got {ast.unparse(node)[:80]!r}"
        ) from None


def _from_genotype(
    normal: object, normal_concat: object, reduce: object, reduce_concat: object
) -> Arch:
    cells = []
    for cell, concat, name in (
        (normal, normal_concat, "normal"),
        (reduce, reduce_concat, "reduce"),
    ):
        if not _is_seq(concat) or tuple(concat) != CONCAT:
            raise ValueError(f"NB301 needs {name}_concat = [2, 3, 4, 5], got {concat!r}")
        if not _is_seq(cell) or len(cell) != PAIRS:
            raise ValueError(f"Genotype {name} needs {PAIRS} (op, input) pairs, got {_short(cell)}")
        pairs = []
        for op, inp in (_pair(p, name) for p in cell):
            if op not in OPS:
                raise ValueError(f"unknown DARTS op {op!r} in Genotype {name}")
            pairs.append((inp, OPS.index(op)))
        cells.append(pairs)
    return _check_compact(cells)


def _pair(pair: object, name: str) -> tuple[str, int]:
    if not _is_seq(pair) or len(pair) != 2 or not isinstance(pair[0], str):
        raise ValueError(f"Genotype {name} entries are (op name, input) pairs, got {pair!r}")
    return pair[0], pair[1]


def _is_seq(x: object) -> TypeGuard[Sequence[Any]]:
    return isinstance(x, Sequence) and not isinstance(x, (str, bytes))


def _is_int(x: object) -> TypeGuard[int]:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _short(x: object) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


# ---------------------------------------------------------------- network


def input_shape(task: str) -> tuple[int, int, int]:
    check_task(TASKS, task, "NB301")
    return (3, 32, 32)


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset stride-2 1x1 convs (a strided skip)."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def _sep_conv(c: int, k: int, stride: int) -> nn.Sequential:
    """DARTS separable conv: two ReLU-depthwise-pointwise-BN blocks, the first strided."""
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(c, c, k, stride, k // 2, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False),
        nn.BatchNorm2d(c, affine=False),
        nn.ReLU(),
        nn.Conv2d(c, c, k, 1, k // 2, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False),
        nn.BatchNorm2d(c, affine=False),
    )


def _dil_conv(c: int, k: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(c, c, k, stride, k - 1, dilation=2, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False),
        nn.BatchNorm2d(c, affine=False),
    )


def make_op(op: int, c: int, stride: int) -> nn.Module:
    name = OPS[op]
    if name == "max_pool_3x3":
        return nn.Sequential(nn.MaxPool2d(3, stride, 1), nn.BatchNorm2d(c, affine=False))
    if name == "avg_pool_3x3":
        pool = nn.AvgPool2d(3, stride, 1, count_include_pad=False)
        return nn.Sequential(pool, nn.BatchNorm2d(c, affine=False))
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine=False)
    if name.startswith("sep_conv"):
        return _sep_conv(c, int(name[-1]), stride)
    return _dil_conv(c, int(name[-1]), stride)


CellShape = tuple[int, int, int, bool, bool]  # c_pp, c_p, c, reduction, reduction_prev


class Cell(nn.Module):
    """Keys: `{name}.pre0`, `{name}.pre1`, `{name}.node{n}.in{input}.{op}` (unique, as a
    node's two inputs differ; each key fixes the module's shapes)."""

    def __init__(self, pairs: tuple[Pair, ...], shape: CellShape, make: Factory, name: str) -> None:
        super().__init__()
        c_pp, c_p, c, reduction, reduction_prev = shape
        # after a reduction the older input has twice the resolution: halve it
        pre0 = FactorizedReduce if reduction_prev else ReLUConvBN
        self.pre0 = make(f"{name}.pre0", lambda: pre0(c_pp, c))
        self.pre1 = make(f"{name}.pre1", lambda: ReLUConvBN(c_p, c))
        self.inputs = [inp for inp, _ in pairs]
        self.ops = nn.ModuleList(
            make(
                f"{name}.node{k // 2}.in{inp}.{OPS[op]}",
                functools.partial(make_op, op, c, 2 if reduction and inp < 2 else 1),
            )
            for k, (inp, op) in enumerate(pairs)
        )

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for node in range(len(self.ops) // 2):
            a, b = 2 * node, 2 * node + 1
            states.append(self.ops[a](states[self.inputs[a]]) + self.ops[b](states[self.inputs[b]]))
        return torch.cat(states[2:], dim=1)


def cell_shapes(c: int = 32, layers: int = 8, stem_multiplier: int = 3) -> list[CellShape]:
    """Channels and reduction flags of each cell in the DARTS macro skeleton."""
    c_pp = c_p = stem_multiplier * c
    shapes, reduction_prev = [], False
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        c *= 2 if reduction else 1
        shapes.append((c_pp, c_p, c, reduction, reduction_prev))
        c_pp, c_p, reduction_prev = c_p, len(CONCAT) * c, reduction
    return shapes


class Network(nn.Module):
    """`make(key, constructor)` supplies each module; keys name its slot in the space
    (stem, cell3.pre1, cell3.node2.in0.sep_conv_3x3, classifier10), so weights can be
    shared across archs."""

    def __init__(self, arch: Arch, num_classes: int, make: Factory = fresh, c: int = 32) -> None:
        super().__init__()
        shapes = cell_shapes(c)
        c_stem = shapes[0][0]
        self.stem = make(
            "stem",
            lambda: nn.Sequential(
                nn.Conv2d(3, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem)
            ),
        )
        self.cells = nn.ModuleList(
            Cell(arch[1 if shape[3] else 0], shape, make, f"cell{i}")
            for i, shape in enumerate(shapes)
        )
        c_out = len(CONCAT) * shapes[-1][2]
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = make(f"classifier{num_classes}", lambda: nn.Linear(c_out, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(self.pool(s1).flatten(1))


def build(arch: Arch | str | Sequence, task: str = "cifar10", make: Factory = fresh) -> Network:
    """A NB301 network for `task`, PyTorch default init (modules from `make`)."""
    check_task(TASKS, task, "NB301")
    return Network(parse(arch), TASKS[task], make)


SPACE = Space(
    name=NAME,
    choices=tuple(OPS),
    label="NAS-Bench-301 (DARTS)",
    tasks=TASKS,
    parse=parse,
    to_str=to_str,
    build=build,
    input_shape=input_shape,
    ops=lambda arch: tuple(OPS[op] for cell in arch for _, op in cell),
    examples=(
        "[[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], "
        "[(1, 0), (0, 2), (1, 3), (0, 3), (3, 0), (0, 1), (2, 0), (3, 6)]]",
    ),
    size=None,
)
