"""Hand-made small-image networks, the baselines a found front is held against.

Each factory takes ``(in_channels, num_classes)`` and returns a plain ``nn.Module``
for 28x28 grayscale or 32x32 RGB images (any size from 16x16; an adaptive pooling
layer before the classifier absorbs the difference). They are the small networks
practitioners reach for first, at their usual widths for these image sizes, as they
are trained today: ReLU everywhere, BatchNorm after every conv except LeNet's:

- ``lenet5``: LeCun et al. 1998 with ReLU and max pooling, the classic 2-conv, 3-FC net.
- ``resnet20-8``: the CIFAR ResNet-20 of He et al. 2016 (3 stages of 3 basic blocks,
  option-A shortcuts: subsample and zero-pad) at half width, 8/16/32;
  ``resnet20-16`` is the original width, 16/32/64.
- ``vgg-small``: three VGG stages (Simonyan & Zisserman 2015) of two conv3x3-BN-ReLU,
  widths 24/48/96, max pooling between them, global average pooling, one linear layer.
- ``mobilenetv2-0.35``: MobileNetV2 (Sandler et al. 2018) at width 0.35 with the CIFAR
  strides (the stem and the second stage keep the resolution) and a 256-channel last
  conv instead of 1280.

Params and FLOPs (``FlopCounterMode``, one image) on 1x28x28, 10 classes:

| name | params | MFLOPs |
|---|---|---|
| lenet5 | 61,706 | 0.8 |
| resnet20-8 | 67,906 | 15.5 |
| vgg-small | 162,562 | 32.9 |
| mobilenetv2-0.35 | 272,218 | 18.8 |
| resnet20-16 | 269,434 | 61.6 |

On 3x32x32 the params grow by the stem's extra input channels (at most 450).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn(c_in: int, c_out: int, k: int = 3, stride: int = 1, groups: int = 1,
            relu: bool = True) -> nn.Sequential:  # fmt: skip
    layers = [nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False),
              nn.BatchNorm2d(c_out)]  # fmt: skip
    return nn.Sequential(*layers, *([nn.ReLU(inplace=True)] if relu else []))


# ---------------------------------------------------------------------- LeNet-5
def lenet5(in_channels: int = 1, num_classes: int = 10) -> nn.Module:
    """LeNet-5: conv 5x5 (6) - pool - conv 5x5 (16) - pool - FC 120 - FC 84 - FC classes."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(5), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, num_classes),
    )  # fmt: skip


# ---------------------------------------------------------------------- VGG
def vgg_small(in_channels: int = 1, num_classes: int = 10, widths=(24, 48, 96)) -> nn.Module:
    """Three stages of two conv3x3-BN-ReLU, max pooling between them, GAP, linear."""
    layers, c = [], in_channels
    for i, w in enumerate(widths):
        layers += [conv_bn(c, w), conv_bn(w, w)] + ([nn.MaxPool2d(2)] if i < 2 else [])
        c = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(c, num_classes))  # fmt: skip


# ---------------------------------------------------------------------- ResNet-20
class BasicBlock(nn.Module):
    """Two conv3x3-BN; the shortcut subsamples and zero-pads channels (option A)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_bn(c_in, c_out, stride=stride),
                                  conv_bn(c_out, c_out, relu=False))  # fmt: skip
        self.stride, self.pad = stride, c_out - c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
        if self.pad:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(self.body(x) + shortcut)


def resnet20(in_channels: int = 1, num_classes: int = 10, width: int = 8) -> nn.Module:
    """CIFAR ResNet-20: stem, 3 stages x 3 blocks at width, 2x, 4x; GAP; linear."""
    layers, c = [conv_bn(in_channels, width)], width
    for stage in range(3):
        w = width * 2**stage
        layers += [BasicBlock(c if i == 0 else w, w, 2 if stage and i == 0 else 1)
                   for i in range(3)]  # fmt: skip
        c = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(c, num_classes))  # fmt: skip


# ---------------------------------------------------------------------- MobileNetV2
class InvertedResidual(nn.Module):
    """Expand 1x1 - depthwise 3x3 - project 1x1 (linear); residual when shapes match."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.body = nn.Sequential(
            *([conv_bn(c_in, hidden, 1)] if expand != 1 else []),
            conv_bn(hidden, hidden, 3, stride, groups=hidden),
            conv_bn(hidden, c_out, 1, relu=False),
        )
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


MOBILENET_V2 = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]  # fmt: skip
"""(expansion t, channels c, blocks n, stride s) of each stage; stride 1 in stage 2 for
small images (the ImageNet network has 2 there and in its stem)."""


def mobilenet_v2(in_channels: int = 1, num_classes: int = 10, width: float = 0.35,
                 last: int = 256) -> nn.Module:  # fmt: skip
    """MobileNetV2 at ``width`` (channels rounded to multiples of 8), stem stride 1."""

    def round8(c: float) -> int:
        return max(8, int(c + 4) // 8 * 8)

    c = round8(32 * width)
    layers = [conv_bn(in_channels, c)]
    for t, channels, n, s in MOBILENET_V2:
        w = round8(channels * width)
        layers += [InvertedResidual(c if i == 0 else w, w, s if i == 0 else 1, t)
                   for i in range(n)]  # fmt: skip
        c = w
    return nn.Sequential(*layers, conv_bn(c, last, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(last, num_classes))  # fmt: skip


BASELINES: dict[str, Callable[[int, int], nn.Module]] = {
    "lenet5": lenet5,
    "resnet20-8": resnet20,
    "vgg-small": vgg_small,
    "mobilenetv2-0.35": mobilenet_v2,
    "resnet20-16": functools.partial(resnet20, width=16),
}
"""Name -> factory ``(in_channels, num_classes) -> nn.Module``; adding a baseline is one line."""
