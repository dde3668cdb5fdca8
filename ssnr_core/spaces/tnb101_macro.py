"""TransNAS-Bench-101 macro space: stage codes and the per-task networks NASLib scores.

An architecture is a ResNet-like backbone of 4 to 6 stages, each two residual basic blocks;
a stage's code says what it does to the previous stage's output: 1 keeps width and
resolution, 2 doubles the width, 3 halves the resolution, 4 does both. NASLib's key is six
codes with 0 for "no stage", e.g. "(1, 2, 4, 2, 0, 0)", and TNB101's own string drops the
zeros: "64-1242-basic" (NASLib `transbench101/conversions.py`,
`convert_op_indices_macro_to_str`). The space has 3,256 architectures: 1 to 4 stages halve
the resolution and 1 to 3 double the width.

The encoder is TNB101's `MacroNet(..., structure="backbone")`: the micro space's stem (two
stride-2 convs to 64 channels), then the stages; a block is ReLU-conv3x3-BN twice plus a
1x1 conv + BN shortcut where the shape changes. TNB101 builds that shortcut BN as
`BatchNorm2d(c, affine, track_running_stats)`, i.e. eps=1 and momentum=1 (positional), kept
here because it changes the forward pass of data-dependent saliencies. Encoder convs are
Kaiming-normal (fan_out), as `MacroNet` initialises them; heads keep PyTorch's default.

So the encoder's output is 64 * 2^d channels (d doublings) and H/4/2^r pixels (r halvings),
and the dense tasks' decoders depend on both: TNB101 sizes them from the width it computes
for a 224-pixel input (56 // 2^r: 28, 14, 7 or 3), which sets how many of their layers are
stride-2 deconvs (3 to 6), so a 256-pixel input comes out at 256 again. Conv and deconv
layers have equal parameter counts: the stored `params` cannot tell a decoder sized for
the micro space's fixed width (7) from the right one; only the output shape can
(tests/test_tnb101_macro.py checks both).
"""

from __future__ import annotations

import ast
import functools
import numbers
import re
import warnings
from collections.abc import Callable, Sequence
from itertools import product
from typing import Any

import torch
from torch import nn

from ssnr_core.spaces import tnb101
from ssnr_core.spaces.layers import ReLUConvBN, check_task
from ssnr_core.spaces.modules import Factory, fresh
from ssnr_core.spaces.space import Space

NAME = "tnb101_macro"
CODES = {1: "keep", 2: "double width", 3: "halve resolution", 4: "double width, halve res"}
POSITIONS = 6
TASKS = dict(tnb101.TASKS)
CLASSIFIERS = tnb101.CLASSIFIERS
BASE_CHANNELS = 64
DESIGN_WIDTH = 224 // 4  # TNB101's feature width after the stem, for a 224-pixel input

Arch = tuple[int, ...]  # six stage codes, zeros (no stage) last

_TNB_STR = re.compile(r"^64-([1-4]{4,6})-basic$")


# ---------------------------------------------------------------- encodings


def parse(arch: Any) -> Arch:
    """Canonical arch from NASLib's key "(1, 2, 4, 2, 0, 0)", the equivalent sequence, or
    TNB101's "64-1242-basic"; ValueError for anything else or outside the space."""
    if isinstance(arch, str):
        text = arch.strip()
        if len(text) > 100:
            raise ValueError(f"TNB101 macro arch text too long ({len(text):,} chars)")
        if text.startswith("64-"):
            m = _TNB_STR.match(text)
            if not m:
                raise ValueError(f"not a TNB101 macro arch string 64-<4-6 codes>-basic: {text!r}")
            arch = tuple(int(c) for c in m.group(1))
        else:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    arch = ast.literal_eval(text)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                raise ValueError(f"not a TNB101 macro code tuple: {text!r}") from None
    if hasattr(arch, "tolist"):
        arch = arch.tolist()
    if not isinstance(arch, Sequence) or isinstance(arch, (str, bytes)) or len(arch) > POSITIONS:
        raise ValueError(f"a TNB101 macro arch has up to six stage codes, got {repr(arch)[:80]}")
    for pos, code in enumerate(arch):
        if (
            not isinstance(code, numbers.Integral)
            or isinstance(code, bool)
            or not 0 <= int(code) <= 4
        ):
            raise ValueError(f"TNB101 macro stage {pos}: code must be an int in 0..4, got {code!r}")
    stages = tuple(int(c) for c in arch if c)
    check(stages)
    return stages + (0,) * (POSITIONS - len(stages))


def check(stages: Sequence[int]) -> None:
    """ValueError unless `stages` (nonzero codes) is in the TNB101 macro space."""
    halvings = sum(c > 2 for c in stages)
    doublings = sum(c % 2 == 0 for c in stages)
    if not 4 <= len(stages) <= POSITIONS:
        raise ValueError(f"TNB101 macro archs have 4 to 6 stages, got {len(stages)}")
    if not 1 <= halvings <= 4:
        raise ValueError(f"TNB101 macro archs halve the resolution 1 to 4 times, got {halvings}")
    if not 1 <= doublings <= 3:
        raise ValueError(f"TNB101 macro archs double the width 1 to 3 times, got {doublings}")


def to_str(arch: Arch) -> str:
    """NASLib's key, e.g. "(1, 2, 4, 2, 0, 0)"."""
    return "(" + ", ".join(str(c) for c in arch) + ")"


def to_tnb101_str(arch: Arch) -> str:
    """TNB101's own arch string, e.g. "64-1242-basic"."""
    return "64-" + "".join(str(c) for c in arch if c) + "-basic"


def all_archs() -> list[Arch]:
    """Every architecture of the space, in a fixed order."""
    out = []
    for n in range(4, POSITIONS + 1):
        for stages in product((1, 2, 3, 4), repeat=n):
            try:
                check(stages)
            except ValueError:
                continue
            out.append(stages + (0,) * (POSITIONS - n))
    return out


def encoder_shape(arch: Arch, base: int = BASE_CHANNELS) -> tuple[int, int]:
    """(output channels, TNB101's design width) of the encoder of `arch`."""
    c, width = base, DESIGN_WIDTH
    for code in (c for c in arch if c):
        c, width = (2 * c if code % 2 == 0 else c), (width // 2 if code > 2 else width)
    return c, width


# ---------------------------------------------------------------- network


def input_shape(task: str) -> tuple[int, int, int]:
    """As the micro space: 3x256x256, jigsaw's nine 3x64x64 tiles stacked on channels."""
    return tnb101.input_shape(task)


def _kaiming(module: nn.Module) -> nn.Module:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return module


class BasicBlock(nn.Module):
    """TNB101's `ResNetBasicblock`: two ReLU-conv3x3-BN, a 1x1 conv + BN shortcut where the
    shape changes (its BN with eps=1, momentum=1, as TNB101 builds it)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                nn.BatchNorm2d(c_out, eps=1.0, momentum=1.0),
            )
        _kaiming(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class Encoder(nn.Module):
    """3xHxW -> (64 * 2^d) x H/4/2^r x W/4/2^r. Keys: `stem`, `stage{i}.{j}.{in}-{out}.s{s}`."""

    def __init__(self, arch: Arch, make: Factory = fresh, base: int = BASE_CHANNELS) -> None:
        super().__init__()
        self.stem = make(
            "stem",
            lambda: _kaiming(
                nn.Sequential(
                    nn.Conv2d(3, base // 2, 3, stride=2, padding=1, bias=False),
                    nn.BatchNorm2d(base // 2),
                    ReLUConvBN(base // 2, base, 3, stride=2),
                )
            ),
        )
        blocks: list[nn.Module] = []
        c = base
        for i, code in enumerate(c for c in arch if c):
            c_out, stride = (2 * c if code % 2 == 0 else c), (2 if code > 2 else 1)
            for j, (a, s) in enumerate(((c, stride), (c_out, 1))):
                key = f"stage{i}.{j}.{a}-{c_out}.s{s}"
                blocks.append(make(key, functools.partial(BasicBlock, a, c_out, s)))
            c = c_out
        self.blocks = nn.Sequential(*blocks)
        self.out_channels, self.design_width = encoder_shape(arch, base)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x))


class Classifier(nn.Module):
    """class_object / class_scene / room_layout: global pool + Linear."""

    def __init__(self, arch: Arch, num_out: int, make: Factory = fresh) -> None:
        super().__init__()
        self.encoder = Encoder(arch, make)
        c = self.encoder.out_channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = make(f"classifier{num_out}.c{c}", lambda: nn.Linear(c, num_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.encoder(x)).flatten(1))


class Jigsaw(nn.Module):
    """Siamese: one shared encoder per tile, features concatenated, then pool + Linear."""

    def __init__(self, arch: Arch, num_out: int, make: Factory = fresh) -> None:
        super().__init__()
        self.encoder = Encoder(arch, make)
        c = self.encoder.out_channels * tnb101.JIGSAW_TILES
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = make(f"jigsaw_classifier{num_out}.c{c}", lambda: nn.Linear(c, num_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tiles = x.reshape(x.shape[0], tnb101.JIGSAW_TILES, -1, *x.shape[-2:])
        n = tnb101.JIGSAW_TILES
        features = torch.cat([self.encoder(tiles[:, t]) for t in range(n)], dim=1)
        return self.fc(self.pool(features).flatten(1))


class EncoderDecoder(nn.Module):
    """Dense tasks: encoder, then TNB101's image decoder for its channels and design width."""

    def __init__(
        self,
        arch: Arch,
        decoder: Callable[..., nn.Module],
        num_out: int,
        make: Factory = fresh,
    ) -> None:
        super().__init__()
        self.encoder = Encoder(arch, make)
        c, w = self.encoder.out_channels, self.encoder.design_width
        name = getattr(decoder, "__name__", "decoder")
        self.decoder = make(f"{name}{num_out}.c{c}.w{w}", lambda: decoder(c, num_out, in_width=w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def build(
    arch: Arch | str | Sequence, task: str = "class_scene", make: Factory = fresh
) -> nn.Module:
    """A TNB101 macro network for `task` (modules from `make`, keyed by slot)."""
    check_task(TASKS, task, "TNB101 macro")
    arch, n = parse(arch), TASKS[task]
    if task == "jigsaw":
        return Jigsaw(arch, n, make)
    if task in ("autoencoder", "normal"):
        return EncoderDecoder(arch, tnb101.generative_decoder, n, make)
    if task == "segmentsemantic":
        return EncoderDecoder(arch, tnb101.segmentation_decoder, n, make)
    return Classifier(arch, n, make)


SPACE = Space(
    name=NAME,
    label="TransNAS-Bench-101 macro",
    tasks=TASKS,
    parse=parse,
    to_str=to_str,
    build=build,
    input_shape=input_shape,
    ops=lambda arch: tuple(CODES[c] for c in arch if c),
    examples=("(1, 2, 4, 2, 0, 0)", "64-41414-basic"),
    size=3256,
    choices=tuple(CODES.values()),
    same_body=(CLASSIFIERS,),  # only `classifier{num_out}` differs
)
