"""NAS-Bench-201 (NATS-Bench topology space): cell strings and the standard network.

A cell has four nodes; node j sums one op applied to each earlier node. The six
edges, in the order of the official string `|a~0|+|b~0|c~1|+|d~0|e~1|f~2|`, are
(1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2). The network is the paper's:
a 3x3 stem, three stages of five cells (C=16, 32, 64) joined by ResNet reduction
blocks, then BN-ReLU-global pool-Linear.
"""

from __future__ import annotations

import ast
import numbers
import re
import warnings
from collections.abc import Sequence
from typing import TypeGuard, cast

import torch
from torch import nn

from ssnr_core.data import pinned
from ssnr_core.spaces.layers import ReLUConvBN, check_task
from ssnr_core.spaces.modules import Factory, fresh
from ssnr_core.spaces.space import Space

NAME = "nb201"
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# NASLib's op indices (verified against the benchmark: see ssnr_core/data/README.md).
NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
# NASLib tuple position -> edge (to, from); the official string is ordered by `EDGES`.
NASLIB_EDGES = ((1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2))
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
TASKS = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}


Arch = tuple[str, ...]  # six op names in `EDGES` order

_OP = r"([^|~+]+)"
_CELL = re.compile(rf"^\|{_OP}~0\|\+\|{_OP}~0\|{_OP}~1\|\+\|{_OP}~0\|{_OP}~1\|{_OP}~2\|$")


def parse(arch: object) -> Arch:
    """Canonical arch from an official cell string, a NASLib op-index tuple (or its
    string form "(4, 3, 3, 3, 2, 3)"), or a benchmark index; ValueError for anything
    else (the text may come from an upload: no other exception, no echo of a huge cell)."""
    if isinstance(arch, numbers.Integral) and not isinstance(arch, bool):
        return from_index(int(arch))
    if isinstance(arch, str):
        text = arch.strip()
        if len(text) > 200:  # a cell string is about 90 chars
            raise ValueError(f"NAS-Bench-201 arch text too long ({len(text):,} chars)")
        if text.startswith("|"):
            m = _CELL.match(text)
            if not m:
                raise ValueError(f"malformed NAS-Bench-201 cell string: {text[:80]!r}")
            ops = m.groups()
            for op in ops:
                if op not in OPS:
                    raise ValueError(f"unknown NAS-Bench-201 op {op[:40]!r} in {text[:80]!r}")
            return tuple(ops)
        if text.isascii() and text.isdigit():
            return from_index(int(text))
        if not text.startswith("("):
            raise ValueError(f"not a NAS-Bench-201 cell string or NASLib tuple: {text[:80]!r}")
        try:
            with warnings.catch_warnings():  # "(1)(2)" warns "'int' object is not callable"
                warnings.simplefilter("ignore")
                arch = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise ValueError(f"malformed NASLib op tuple: {text[:80]!r}") from None
    if hasattr(arch, "tolist") and not isinstance(arch, (str, bytes)):
        arch = arch.tolist()  # a numpy op-index array
    if (
        not isinstance(arch, Sequence)
        or isinstance(arch, (str, bytes, bytearray))
        or len(arch) != 6
        or not all(
            isinstance(i, numbers.Integral)
            and not isinstance(i, bool)
            and 0 <= int(i) < len(NASLIB_OPS)
            for i in arch
        )
    ):
        raise ValueError(
            f"a NASLib NAS-Bench-201 key has six op indices in 0..4, got {repr(arch)[:80]}"
        )
    by_edge = {edge: NASLIB_OPS[int(i)] for edge, i in zip(NASLIB_EDGES, arch)}
    return tuple(by_edge[edge] for edge in EDGES)


def to_str(arch: Arch) -> str:
    """The official cell string."""
    a = arch
    return f"|{a[0]}~0|+|{a[1]}~0|{a[2]}~1|+|{a[3]}~0|{a[4]}~1|{a[5]}~2|"


def to_naslib(arch: Arch) -> str:
    """NASLib's key, e.g. "(4, 3, 3, 3, 2, 3)"."""
    by_edge = dict(zip(EDGES, arch))
    return str(tuple(NASLIB_OPS.index(by_edge[edge]) for edge in NASLIB_EDGES))


def from_index(index: int) -> Arch:
    """The arch at a benchmark index, via the data's cell-string table."""
    strings = pinned.nb201_cell_strings()
    if not 0 <= index < len(strings):
        raise ValueError(f"NAS-Bench-201 index must be in 0..{len(strings) - 1}, got {index}")
    return parse(strings[index])


def input_shape(task: str) -> tuple[int, int, int]:
    check_task(TASKS, task, "NAS-Bench-201")
    return (3, 16, 16) if task == "ImageNet16-120" else (3, 32, 32)


def make_op(name: str, c: int) -> nn.Module:
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(c, c, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c, c, 3)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NAS-Bench-201 op {name!r}")


def live_edges(arch: Arch) -> tuple[bool, ...]:
    """Per edge, whether it lies on a path from the cell's input (node 0) to its output
    (node 3) through ops other than `none`. Any other edge cannot change the output:
    it adds nothing or feeds a node the output ignores, so its saliency is exactly zero."""
    reached, reaches = {0}, {3}
    for (to, frm), op in zip(EDGES, arch):  # EDGES is ordered by `to`: one pass
        if op != "none" and frm in reached:
            reached.add(to)
    for (to, frm), op in reversed(list(zip(EDGES, arch))):
        if op != "none" and to in reaches:
            reaches.add(frm)
    return tuple(
        op != "none" and frm in reached and to in reaches for (to, frm), op in zip(EDGES, arch)
    )


def body(c: int = 16) -> list[tuple[str, int]]:
    """The network between stem and head, in order: (slot name, width) of every block;
    names starting with "cell" are cells, "reduce" the reduction blocks."""
    blocks: list[tuple[str, int]] = []
    for stage, width in enumerate((c, 2 * c, 4 * c)):
        if stage:
            blocks.append((f"reduce{stage}", width))
        for _ in range(5):
            blocks.append((f"cell{len(blocks)}", width))
    return blocks


def make_stem(make: Factory, c: int = 16) -> nn.Sequential:
    stem = make(
        "stem", lambda: nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
    )
    return cast(nn.Sequential, stem)


def make_edge(make: Factory, cell: str, edge: tuple[int, int], op: str, c: int) -> nn.Module:
    """The op on one edge of one cell: its slot is (cell, edge, op)."""
    to, frm = edge
    return make(f"{cell}.{to}<-{frm}.{op}", lambda: make_op(op, c))


def make_reduce(make: Factory, name: str, width: int) -> ResBlock:
    return cast(ResBlock, make(name, lambda: ResBlock(width // 2, width)))


def make_classifier(make: Factory, num_classes: int, c: int = 16) -> nn.Linear:
    return cast(nn.Linear, make(f"classifier{num_classes}", lambda: nn.Linear(4 * c, num_classes)))


class Cell(nn.Module):
    def __init__(self, arch: Arch, c: int, make: Factory, name: str) -> None:
        super().__init__()
        # Edges whose op is `none` add nothing: leave them out of the graph.
        kept = [(edge, op) for edge, op in zip(EDGES, arch) if op != "none"]
        self.edges = [edge for edge, _ in kept]
        self.ops = nn.ModuleList(make_edge(make, name, edge, op, c) for edge, op in kept)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for (to, frm), op in zip(self.edges, self.ops):
            src = nodes[frm]
            if src is None:  # an all-zero node: every op of it gives zero
                continue
            y = op(src)
            nodes[to] = y if nodes[to] is None else nodes[to] + y
        return nodes[3] if nodes[3] is not None else x * 0.0


class ResBlock(nn.Module):
    """The NAS-Bench-201 reduction block: two 3x3 ReLU-conv-BNs plus a pooled 1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.downsample(x)


class Network(nn.Module):
    """`make(key, constructor)` supplies each module; keys name the module's slot in the
    space (stem, cell3.2<-1.nor_conv_3x3, ...), so weights can be shared across archs."""

    def __init__(self, arch: Arch, num_classes: int, make: Factory = fresh, c: int = 16) -> None:
        super().__init__()
        self.stem = make_stem(make, c)
        self.cells = nn.Sequential(
            *(
                Cell(arch, width, make, name)
                if name.startswith("cell")
                else make_reduce(make, name, width)
                for name, width in body(c)
            )
        )
        self.head = make("head", lambda: nn.Sequential(nn.BatchNorm2d(4 * c), nn.ReLU()))
        self.classifier = make_classifier(make, num_classes, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.cells(self.stem(x)))
        return self.classifier(x.mean(dim=(2, 3)))


def build(arch: Arch | str | Sequence, task: str = "cifar10", make: Factory = fresh) -> Network:
    """A NAS-Bench-201 network for `task`, PyTorch default init (modules from `make`)."""
    check_task(TASKS, task, "NAS-Bench-201")
    return Network(arch if _is_arch(arch) else parse(arch), TASKS[task], make)


def _is_arch(arch: object) -> TypeGuard[Arch]:
    return isinstance(arch, tuple) and len(arch) == 6 and all(op in OPS for op in arch)


SPACE = Space(
    name=NAME,
    choices=tuple(OPS),
    label="NAS-Bench-201",
    tasks=TASKS,
    parse=parse,
    to_str=to_str,
    build=build,
    input_shape=input_shape,
    ops=tuple,
    examples=(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
        "(4, 3, 3, 3, 2, 3)",
        "0",
    ),
    size=5**6,
    indexed=True,
    naslib=to_naslib,
    same_body=(("cifar10", "cifar100"),),  # only `classifier{num_classes}` differs
)
