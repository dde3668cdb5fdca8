"""Well-known image classifiers, built here so that scoring one needs no extra package.

The same architectures as torchvision 0.28's builders with `weights=None` (module names,
layer shapes, parameter counts and initialisation), so a saliency table of `vgg16` here
reads like one of `torchvision.models.vgg16()`: VGG-16 (the SSNR paper's Figure 1),
ResNet-18/50, MobileNetV2, MobileNetV3 large/small, EfficientNet-B0 and ViT-B/16. They
exist because torchvision's PyPI wheel for torch 2.13 is the CUDA build, which does not
import beside the CPU torch this project pins; `proxies.models` uses torchvision itself
when it imports.

Parameter counts (ImageNet head, 1,000 classes) are torchvision's published ones:
tests/test_models.py checks every builder against them. ViT-B/16 has torchvision's zero
head: its synflow is zero everywhere until the head is trained or re-initialised.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from functools import partial

import torch
from torch import nn

IMAGENET_CLASSES = 1000


def divisible(v: float, divisor: int = 8) -> int:
    """Round a width to a multiple of `divisor`, never below 90% of `v` (MobileNet's rule)."""
    out = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * v else out


class ConvNormAct(nn.Sequential):
    """Conv (no bias when normalised), BatchNorm, activation: torchvision's
    `Conv2dNormActivation` (children `0`, `1`, `2`)."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int = 3,
        stride: int = 1,
        groups: int = 1,
        norm: Callable[[int], nn.Module] | None = nn.BatchNorm2d,
        act: Callable[[], nn.Module] | None = nn.ReLU,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(
                c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=norm is None
            )
        ]
        if norm is not None:
            layers.append(norm(c_out))
        if act is not None:
            layers.append(act())
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    """Channel attention: pool, 1x1 conv down (`fc1`), act, 1x1 conv up (`fc2`), gate."""

    def __init__(
        self,
        c: int,
        squeeze: int,
        act: Callable[[], nn.Module] = nn.ReLU,
        gate: Callable[[], nn.Module] = nn.Sigmoid,
    ) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.activation, self.scale_activation = act(), gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))


class StochasticDepth(nn.Module):
    """Drops a residual branch per sample with probability p while training ("row" mode)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device)
        return x * keep.bernoulli_(1 - self.p).div_(1 - self.p)


def _init_convnet(model: nn.Module, linear: str = "normal") -> None:
    """torchvision's CNN init: Kaiming-normal (fan_out) convs, BN 1/0, zero biases; Linear
    N(0, 0.01) ("normal"), U(+-1/sqrt(out)) ("uniform") or PyTorch's default ("default")."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and linear != "default":
            if linear == "normal":
                nn.init.normal_(m.weight, 0.0, 0.01)
            else:
                r = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -r, r)
            nn.init.zeros_(m.bias)


# ---------------------------------------------------------------- VGG


class VGG(nn.Module):
    def __init__(self, widths: tuple[int | str, ...], num_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for w in widths:
            if w == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, int(w), 3, padding=1), nn.ReLU(inplace=True)]
                c = int(w)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(0.5),
            nn.Linear(4096, num_classes),
        )
        _init_convnet(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def vgg16(num_classes: int = IMAGENET_CLASSES) -> VGG:
    """VGG-16 (configuration D, no BatchNorm): 13 convs, 3 Linear layers."""
    m = "M"
    return VGG(
        (64, 64, m, 128, 128, m, 256, 256, 256, m, 512, 512, 512, m, 512, 512, 512, m), num_classes
    )


# ---------------------------------------------------------------- ResNet


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _shortcut(c_in, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    """ResNet v1.5: the stride sits on the 3x3 conv."""

    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(c_in, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(c_in, out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn3(self.conv3(self.relu(self.bn2(self.conv2(out)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


def _shortcut(c_in: int, c_out: int, stride: int) -> nn.Sequential | None:
    if stride == 1 and c_in == c_out:
        return None
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))


class ResNet(nn.Module):
    def __init__(
        self, block: type[BasicBlock | Bottleneck], depths: tuple[int, ...], num_classes: int
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c = 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), depths), start=1):
            blocks = []
            for j in range(n):
                blocks.append(block(c, planes, 2 if j == 0 and i > 1 else 1))
                c = planes * block.expansion
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)
        _init_convnet(self, linear="default")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(num_classes: int = IMAGENET_CLASSES) -> ResNet:
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes)


def resnet50(num_classes: int = IMAGENET_CLASSES) -> ResNet:
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes)


# ---------------------------------------------------------------- MobileNetV2


class InvertedResidualV2(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = round(c_in * expand)
        relu6 = partial(nn.ReLU6, inplace=True)
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvNormAct(c_in, hidden, 1, act=relu6))
        layers += [
            ConvNormAct(hidden, hidden, 3, stride, groups=hidden, act=relu6),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        self.conv = nn.Sequential(*layers)
        self.use_res_connect = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    # (expansion, width, blocks, first stride) per stage
    SETTINGS: tuple[tuple[int, int, int, int], ...] = (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )

    def __init__(self, num_classes: int = IMAGENET_CLASSES) -> None:
        super().__init__()
        relu6 = partial(nn.ReLU6, inplace=True)
        layers: list[nn.Module] = [ConvNormAct(3, 32, 3, 2, act=relu6)]
        c = 32
        for t, width, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(InvertedResidualV2(c, width, s if i == 0 else 1, t))
                c = width
        layers.append(ConvNormAct(c, 1280, 1, act=relu6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))
        _init_convnet(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(x.flatten(1))


def mobilenet_v2(num_classes: int = IMAGENET_CLASSES) -> MobileNetV2:
    return MobileNetV2(num_classes)


# ---------------------------------------------------------------- MobileNetV3


class InvertedResidualV3(nn.Module):
    def __init__(
        self, c_in: int, kernel: int, hidden: int, c_out: int, se: bool, act: str, stride: int
    ) -> None:
        super().__init__()
        norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        activation = nn.Hardswish if act == "HS" else nn.ReLU
        layers: list[nn.Module] = []
        if hidden != c_in:
            layers.append(ConvNormAct(c_in, hidden, 1, norm=norm, act=activation))
        layers.append(ConvNormAct(hidden, hidden, kernel, stride, hidden, norm, activation))
        if se:
            layers.append(SqueezeExcitation(hidden, divisible(hidden // 4), gate=nn.Hardsigmoid))
        layers.append(ConvNormAct(hidden, c_out, 1, norm=norm, act=None))
        self.block = nn.Sequential(*layers)
        self.use_res_connect = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.use_res_connect else self.block(x)


# (input, kernel, expanded, output, squeeze-excite, activation, stride) per block
_V3_LARGE = (
    (16, 3, 16, 16, False, "RE", 1),
    (16, 3, 64, 24, False, "RE", 2),
    (24, 3, 72, 24, False, "RE", 1),
    (24, 5, 72, 40, True, "RE", 2),
    (40, 5, 120, 40, True, "RE", 1),
    (40, 5, 120, 40, True, "RE", 1),
    (40, 3, 240, 80, False, "HS", 2),
    (80, 3, 200, 80, False, "HS", 1),
    (80, 3, 184, 80, False, "HS", 1),
    (80, 3, 184, 80, False, "HS", 1),
    (80, 3, 480, 112, True, "HS", 1),
    (112, 3, 672, 112, True, "HS", 1),
    (112, 5, 672, 160, True, "HS", 2),
    (160, 5, 960, 160, True, "HS", 1),
    (160, 5, 960, 160, True, "HS", 1),
)
_V3_SMALL = (
    (16, 3, 16, 16, True, "RE", 2),
    (16, 3, 72, 24, False, "RE", 2),
    (24, 3, 88, 24, False, "RE", 1),
    (24, 5, 96, 40, True, "HS", 2),
    (40, 5, 240, 40, True, "HS", 1),
    (40, 5, 240, 40, True, "HS", 1),
    (40, 5, 120, 48, True, "HS", 1),
    (48, 5, 144, 48, True, "HS", 1),
    (48, 5, 288, 96, True, "HS", 2),
    (96, 5, 576, 96, True, "HS", 1),
    (96, 5, 576, 96, True, "HS", 1),
)


class MobileNetV3(nn.Module):
    def __init__(self, blocks: tuple[tuple, ...], last: int, num_classes: int) -> None:
        super().__init__()
        norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        layers: list[nn.Module] = [ConvNormAct(3, 16, 3, 2, norm=norm, act=nn.Hardswish)]
        layers += [InvertedResidualV3(*b) for b in blocks]
        c = blocks[-1][3]
        layers.append(ConvNormAct(c, 6 * c, 1, norm=norm, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(6 * c, last),
            nn.Hardswish(inplace=True),
            nn.Dropout(0.2, inplace=True),
            nn.Linear(last, num_classes),
        )
        _init_convnet(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def mobilenet_v3_large(num_classes: int = IMAGENET_CLASSES) -> MobileNetV3:
    return MobileNetV3(_V3_LARGE, 1280, num_classes)


def mobilenet_v3_small(num_classes: int = IMAGENET_CLASSES) -> MobileNetV3:
    return MobileNetV3(_V3_SMALL, 1024, num_classes)


# ---------------------------------------------------------------- EfficientNet-B0


class MBConv(nn.Module):
    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, expand: int, drop: float
    ) -> None:
        super().__init__()
        hidden = divisible(c_in * expand)
        silu = partial(nn.SiLU, inplace=True)
        layers: list[nn.Module] = []
        if hidden != c_in:
            layers.append(ConvNormAct(c_in, hidden, 1, act=silu))
        layers += [
            ConvNormAct(hidden, hidden, kernel, stride, hidden, act=silu),
            SqueezeExcitation(hidden, max(1, c_in // 4), act=silu),
            ConvNormAct(hidden, c_out, 1, act=None),
        ]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(drop)
        self.use_res_connect = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + self.stochastic_depth(out) if self.use_res_connect else out


class EfficientNet(nn.Module):
    # (expansion, kernel, stride, input, output, blocks) per stage, B0 scaling
    STAGES = (
        (1, 3, 1, 32, 16, 1),
        (6, 3, 2, 16, 24, 2),
        (6, 5, 2, 24, 40, 2),
        (6, 3, 2, 40, 80, 3),
        (6, 5, 1, 80, 112, 3),
        (6, 5, 2, 112, 192, 4),
        (6, 3, 1, 192, 320, 1),
    )

    def __init__(self, num_classes: int = IMAGENET_CLASSES, depth_drop: float = 0.2) -> None:
        super().__init__()
        silu = partial(nn.SiLU, inplace=True)
        layers: list[nn.Module] = [ConvNormAct(3, 32, 3, 2, act=silu)]
        total, block_id = sum(s[-1] for s in self.STAGES), 0
        for expand, kernel, stride, c_in, c_out, n in self.STAGES:
            stage = []
            for i in range(n):
                drop = depth_drop * block_id / total
                stage.append(
                    MBConv(
                        c_out if i else c_in, c_out, kernel, stride if i == 0 else 1, expand, drop
                    )
                )
                block_id += 1
            layers.append(nn.Sequential(*stage))
        layers.append(ConvNormAct(320, 1280, 1, act=silu))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2, inplace=True), nn.Linear(1280, num_classes))
        _init_convnet(self, linear="uniform")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def efficientnet_b0(num_classes: int = IMAGENET_CLASSES) -> EfficientNet:
    return EfficientNet(num_classes)


# ---------------------------------------------------------------- ViT-B/16


class EncoderBlock(nn.Module):
    def __init__(self, heads: int, hidden: int, mlp: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.dropout = nn.Dropout(0.0)
        self.ln_2 = nn.LayerNorm(hidden, eps=1e-6)
        up, down = nn.Linear(hidden, mlp), nn.Linear(mlp, hidden)
        for m in (up, down):
            nn.init.xavier_uniform_(m.weight)
            nn.init.normal_(m.bias, std=1e-6)
        self.mlp = nn.Sequential(up, nn.GELU(), nn.Dropout(0.0), down, nn.Dropout(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ln_1(x)
        y, _ = self.self_attention(y, y, y, need_weights=False)
        x = x + self.dropout(y)
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    def __init__(self, seq: int, layers: int, heads: int, hidden: int, mlp: int) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, seq, hidden).normal_(std=0.02))
        self.dropout = nn.Dropout(0.0)
        self.layers = nn.Sequential(
            OrderedDict(
                (f"encoder_layer_{i}", EncoderBlock(heads, hidden, mlp)) for i in range(layers)
            )
        )
        self.ln = nn.LayerNorm(hidden, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(self.layers(self.dropout(x + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """ViT with a class token; the patch size fixes the input size (`image_size`)."""

    def __init__(
        self,
        image_size: int = 224,
        patch: int = 16,
        num_classes: int = IMAGENET_CLASSES,
        dims: tuple[int, int, int, int] = (12, 12, 768, 3072),  # layers, heads, hidden, mlp
    ) -> None:
        super().__init__()
        layers, heads, hidden, mlp = dims
        self.image_size, self.patch, self.hidden = image_size, patch, hidden
        proj = nn.Conv2d(3, hidden, patch, patch)
        nn.init.trunc_normal_(proj.weight, std=math.sqrt(1 / (3 * patch * patch)))
        nn.init.zeros_(proj.bias)  # type: ignore[arg-type]  # Conv2d has a bias here
        self.conv_proj = proj
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden))
        seq = (image_size // patch) ** 2 + 1
        self.encoder = Encoder(seq, layers, heads, hidden, mlp)
        head = nn.Linear(hidden, num_classes)
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
        self.heads = nn.Sequential(OrderedDict(head=head))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"this ViT takes {self.image_size}x{self.image_size} images, got "
                f"{x.shape[-2]}x{x.shape[-1]}"
            )
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.heads(self.encoder(x)[:, 0])


def vit_b_16(num_classes: int = IMAGENET_CLASSES) -> VisionTransformer:
    return VisionTransformer(num_classes=num_classes)


BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "vgg16": vgg16,
    "resnet18": resnet18,
    "resnet50": resnet50,
    "mobilenet_v2": mobilenet_v2,
    "mobilenet_v3_large": mobilenet_v3_large,
    "mobilenet_v3_small": mobilenet_v3_small,
    "efficientnet_b0": efficientnet_b0,
    "vit_b_16": vit_b_16,
}
# torchvision's published parameter counts (ImageNet head), which the builders reproduce.
PARAMS = {
    "vgg16": 138_357_544,
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "mobilenet_v2": 3_504_872,
    "mobilenet_v3_large": 5_483_032,
    "mobilenet_v3_small": 2_542_856,
    "efficientnet_b0": 5_288_548,
    "vit_b_16": 86_567_656,
}
INPUT_SHAPE = (3, 224, 224)


def build(name: str, num_classes: int = IMAGENET_CLASSES) -> nn.Module:
    """A model by its torchvision name (untrained, seeded by the global torch RNG)."""
    if name not in BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(BUILDERS)}")
    return BUILDERS[name](num_classes)
