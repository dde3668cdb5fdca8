"""TransNAS-Bench-101 micro space: cell keys and the per-task networks NASLib scores.

A cell has four nodes; node j sums one op applied to each earlier node. NASLib's key
"(a, b, c, d, e, f)" is formatted straight into TransNAS-Bench-101's own arch string
"64-41414-a_bc_def" (NASLib `transbench101/conversions.py`,
`convert_op_indices_micro_to_str`), whose cell code lists node 1's input op, then
node 2's, then node 3's (TNB101 `cell_micro.py`). So the six positions are the edges
(1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2) -- NOT NASLib's NB201 order -- and the
op digits are TNB101's: 0 none, 1 skip_connect, 2 conv 1x1, 3 conv 3x3. The data agree:
with this decoding every stored NASLib `params` matches; with the NB201 edge order 532 of
711 archs do not.

The encoder is TNB101's `MacroNet("64-41414-...")` backbone: a two-conv stride-4 stem to
64 channels, then five stages of two cells; stage codes 4/1 mean "double channels and
halve resolution" / "keep both". Task heads are TNB101's (`model_builder.py`), which
NASLib wraps unchanged for zero-cost scoring. The autoencoder/normal GAN discriminator is
left out: it never runs in forward, so NASLib's parameter counts exclude it too.
"""

from __future__ import annotations

import ast
import functools
import math
import numbers
import re
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ssnr_core.spaces.layers import ReLUConvBN, check_task
from ssnr_core.spaces.modules import Factory, fresh
from ssnr_core.spaces.space import Space

NAME = "tnb101"
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")  # NASLib/TNB101 digits
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from) per key position
MACRO = "41414"
BASE_CHANNELS = 64
TASKS = {
    "class_object": 100,
    "class_scene": 63,
    "jigsaw": 1000,
    "room_layout": 9,  # layout regression outputs
    "autoencoder": 3,  # output image channels
    "normal": 3,  # surface-normal image channels
    "segmentsemantic": 17,  # per-pixel class logits
}

# tasks whose network is the encoder, a global pool and one Linear layer (`Classifier`)
CLASSIFIERS = ("class_object", "class_scene", "room_layout")
JIGSAW_TILES = 9
JIGSAW_TILE = (3, 64, 64)
IMAGE = (3, 256, 256)

Arch = tuple[int, ...]  # six op indices in `EDGES` order

_TNB_STR = re.compile(r"^64-41414-(\d)_(\d)(\d)_(\d)(\d)(\d)$")


# ---------------------------------------------------------------- encodings


def parse(arch: str | Sequence) -> Arch:
    """Canonical arch from NASLib's key "(1, 0, 0, 2, 1, 0)", the equivalent sequence,
    or TNB101's "64-41414-1_00_210"; ValueError if malformed."""
    if isinstance(arch, str):
        text = arch.strip()
        if len(text) > 100:
            raise ValueError(f"TNB101 arch text too long ({len(text):,} chars)")
        if text.startswith("64-"):
            m = _TNB_STR.match(text)
            if not m:
                raise ValueError(f"not a TNB101 micro arch string 64-41414-a_bc_def: {text!r}")
            arch = tuple(int(g) for g in m.groups())
        else:
            try:
                with warnings.catch_warnings():  # "(1)(2)" warns "'int' object is not callable"
                    warnings.simplefilter("ignore")
                    arch = ast.literal_eval(text)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                raise ValueError(f"not a TNB101 op-index tuple: {text!r}") from None
    if hasattr(arch, "tolist"):  # numpy / torch op-index arrays, as NASLib hands them out
        arch = arch.tolist()
    if not isinstance(arch, Sequence) or isinstance(arch, (str, bytes)) or len(arch) != 6:
        raise ValueError(f"a TNB101 micro arch has six op indices, got {repr(arch)[:80]}")
    for pos, op in enumerate(arch):
        if (
            not isinstance(op, numbers.Integral)
            or isinstance(op, bool)
            or not 0 <= int(op) < len(OPS)
        ):
            raise ValueError(f"TNB101 edge {pos}: op must be an int in 0..3, got {op!r}")
    return tuple(int(op) for op in arch)


def to_str(arch: Arch) -> str:
    """NASLib's key, e.g. "(1, 0, 0, 2, 1, 0)"."""
    return "(" + ", ".join(str(op) for op in arch) + ")"


def to_tnb101_str(arch: Arch) -> str:
    """TNB101's own arch string, e.g. "64-41414-1_00_210"."""
    a = arch
    return f"64-{MACRO}-{a[0]}_{a[1]}{a[2]}_{a[3]}{a[4]}{a[5]}"


# ---------------------------------------------------------------- network


def input_shape(task: str) -> tuple[int, int, int]:
    """One sample's C,H,W. Jigsaw takes its nine 3x64x64 tiles stacked on channels
    (27, 64, 64), tile t in channels 3t..3t+2; forward also accepts (B, 9, 3, 64, 64)."""
    check_task(TASKS, task, "TNB101")
    if task == "jigsaw":
        c, h, w = JIGSAW_TILE
        return (JIGSAW_TILES * c, h, w)
    return IMAGE


class Zero(nn.Module):
    """The `none` edge: zeros shaped like the edge's output."""

    def __init__(self, c_out: int, stride: int) -> None:
        super().__init__()
        self.c_out, self.stride = c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        if x.shape[1] == self.c_out:
            return x * 0.0
        return x.new_zeros(x.shape[0], self.c_out, *x.shape[2:])


class FactorizedReduce(nn.Module):
    """Strided skip: two offset stride-2 1x1 convs, concatenated, then BN."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.convs = nn.ModuleList(
            nn.Conv2d(c_in, c, 1, stride=stride, bias=False)
            for c in (c_out // 2, c_out - c_out // 2)
        )
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.convs[0](x), self.convs[1](shifted)], dim=1))


def make_op(op: int, c_in: int, c_out: int, stride: int) -> nn.Module:
    name = OPS[op]
    if name == "none":
        return Zero(c_out, stride)
    if name == "skip_connect":
        same = stride == 1 and c_in == c_out
        return nn.Identity() if same else FactorizedReduce(c_in, c_out, stride)
    return ReLUConvBN(c_in, c_out, 1 if name == "nor_conv_1x1" else 3, stride)


class Cell(nn.Module):
    """Edges from the cell input carry the stride and channel change; the rest keep c_out.
    Keys: `{name}.{to}<-{from}.{op}`."""

    def __init__(
        self, arch: Arch, c_in: int, c_out: int, stride: int, make: Factory, name: str
    ) -> None:
        super().__init__()
        self.ops = nn.ModuleList(
            make(
                f"{name}.{to}<-{frm}.{OPS[op]}",
                functools.partial(make_op, op, c_in, c_out, stride)
                if frm == 0
                else functools.partial(make_op, op, c_out, c_out, 1),
            )
            for (to, frm), op in zip(EDGES, arch)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for to in (1, 2, 3):
            terms = [op(nodes[frm]) for (t, frm), op in zip(EDGES, self.ops) if t == to]
            nodes.append(sum(terms[1:], terms[0]))
        return nodes[3]


class Encoder(nn.Module):
    """TNB101 MacroNet backbone "64-41414": 3xHxW -> 512 x H/32 x W/32. Keys: `stem`,
    `cell{i}.{to}<-{from}.{op}`."""

    def __init__(
        self, arch: Arch, make: Factory = fresh, base: int = BASE_CHANNELS, macro: str = MACRO
    ) -> None:
        super().__init__()
        self.stem = make(
            "stem",
            lambda: nn.Sequential(
                nn.Conv2d(3, base // 2, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(base // 2),
                ReLUConvBN(base // 2, base, 3, stride=2),
            ),
        )
        cells: list[Cell] = []
        c = base
        for code in map(int, macro):
            c_out = 2 * c if code % 2 == 0 else c
            stride = 2 if code > 2 else 1
            cells.append(Cell(arch, c, c_out, stride, make, f"cell{len(cells)}"))
            cells.append(Cell(arch, c_out, c_out, 1, make, f"cell{len(cells)}"))
            c = c_out
        self.cells = nn.Sequential(*cells)
        self.out_channels = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cells(self.stem(x))


class Classifier(nn.Module):
    """class_object / class_scene / room_layout: global pool + Linear."""

    def __init__(self, arch: Arch, num_out: int, make: Factory = fresh) -> None:
        super().__init__()
        self.encoder = Encoder(arch, make)
        c = self.encoder.out_channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = make(f"classifier{num_out}", lambda: nn.Linear(c, num_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.encoder(x)).flatten(1))


class Jigsaw(nn.Module):
    """Siamese: one shared encoder per tile, features concatenated, then pool + Linear."""

    def __init__(self, arch: Arch, num_out: int, make: Factory = fresh) -> None:
        super().__init__()
        self.encoder = Encoder(arch, make)
        c = self.encoder.out_channels * JIGSAW_TILES
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = make(f"jigsaw_classifier{num_out}", lambda: nn.Linear(c, num_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tiles = x.reshape(x.shape[0], JIGSAW_TILES, -1, *x.shape[-2:])
        features = torch.cat([self.encoder(tiles[:, t]) for t in range(JIGSAW_TILES)], dim=1)
        return self.fc(self.pool(features).flatten(1))


def _conv(c_in: int, c_out: int, act: str | None = "lrelu", bn: bool = True) -> nn.Sequential:
    """3x3 conv (with bias), then optionally BN and LeakyReLU(0.2) / Tanh."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1)]
    if bn:
        layers.append(nn.BatchNorm2d(c_out))
    if act == "lrelu":
        layers.append(nn.LeakyReLU(0.2))
    elif act == "tanh":
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def _deconv(c_in: int, c_out: int) -> nn.Sequential:
    """x2 upsampling: 3x3 stride-2 transposed conv, BN, LeakyReLU."""
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(0.2),
    )


def _num_upsample(in_width: int = 7, out_width: int = IMAGE[1]) -> int:
    # TNB101 sizes its decoders for a 224-pixel encoder (7x7 features) although inputs are
    # 256 (8x8): int(log2(256 / 7)) = 5 upsamplings, which still lands on 256.
    return int(math.log2(out_width / in_width))


def generative_decoder(c_in: int, c_out: int, in_width: int = 7) -> nn.Sequential:
    """TNB101's 14-layer pix2pix decoder (autoencoder, normal), 512x8x8 -> c_out x256x256.
    `in_width`: the encoder's output width as TNB101 computes it for a 224-pixel input
    (7 here; 28/14/7/3 in the macro space), which picks the deconv layers."""
    up = _num_upsample(in_width)
    widths = [
        (c_in, 1024, False),
        (1024, 1024, False),
        (1024, 512, up >= 6),
        (512, 512, False),
        (512, 256, up >= 5),
        (256, 128, False),
        (128, 64, up >= 4),
        (64, 64, False),
        (64, 32, up >= 3),
        (32, 32, False),
        (32, 16, True),
        (16, 32, False),
        (32, 16, True),
    ]
    layers = [_deconv(a, b) if upsample else _conv(a, b) for a, b, upsample in widths]
    return nn.Sequential(*layers, _conv(16, c_out, "tanh", bn=False))


def segmentation_decoder(c_in: int, c_out: int, in_width: int = 7) -> nn.Sequential:
    """TNB101's segmentation decoder, 512x8x8 -> c_out x256x256 logits (`in_width`: as in
    `generative_decoder`)."""
    up = _num_upsample(in_width)
    layers, c = [_conv(c_in, 1024)], 1024
    for _ in range(6 - up):
        layers.append(_conv(c, c // 2))
        c //= 2
    for _ in range(up - 1):
        layers.append(_deconv(c, c // 2))
        c //= 2
    layers += [_deconv(c, c), _conv(c, c_out, None, bn=False)]
    return nn.Sequential(*layers)


class EncoderDecoder(nn.Module):
    """Dense tasks: encoder then an image decoder sized from the encoder's width."""

    def __init__(
        self,
        arch: Arch,
        decoder: Callable[[int, int], nn.Module],
        num_out: int,
        make: Factory = fresh,
    ) -> None:
        super().__init__()
        self.encoder = Encoder(arch, make)
        c = self.encoder.out_channels
        self.decoder = make(f"{decoder.__name__}{num_out}", lambda: decoder(c, num_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def build(
    arch: Arch | str | Sequence, task: str = "class_scene", make: Factory = fresh
) -> nn.Module:
    """A TNB101 network for `task`, PyTorch default init (modules from `make`, keyed by
    slot: stem, cell3.2<-1.nor_conv_3x3, classifier63, generative_decoder3, ...)."""
    check_task(TASKS, task, "TNB101")
    arch, n = parse(arch), TASKS[task]
    if task == "jigsaw":
        return Jigsaw(arch, n, make)
    if task in ("autoencoder", "normal"):
        return EncoderDecoder(arch, generative_decoder, n, make)
    if task == "segmentsemantic":
        return EncoderDecoder(arch, segmentation_decoder, n, make)
    return Classifier(arch, n, make)


SPACE = Space(
    name=NAME,
    choices=tuple(OPS),
    label="TransNAS-Bench-101 micro",
    tasks=TASKS,
    parse=parse,
    to_str=to_str,
    build=build,
    input_shape=input_shape,
    ops=lambda arch: tuple(OPS[op] for op in arch),
    examples=("(1, 0, 0, 2, 1, 0)", "64-41414-3_33_333"),
    size=4**6,
    same_body=(CLASSIFIERS,),  # only `classifier{num_out}` differs
)
