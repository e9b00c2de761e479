"""NAS-Bench-201's TinyNetwork (C=16, N=5) built from an arch string."""

from __future__ import annotations

import torch
from torch import nn

from vkdnw.spaces.nb201 import EDGES, parse_arch

# --------------------------------------------------------------------------------------
# TinyNetwork (NB201, C=16, N=5). Module and parameter order follow the official code, so
# that ``named_parameters()`` lists tensors in the order VKDNW's "first 128" refers to.
# --------------------------------------------------------------------------------------


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, track: bool):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=True, track_running_stats=track),
        )


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def _make_op(op: str, channels: int, track: bool) -> nn.Module:
    if op == "none":
        return Zero()
    if op == "skip_connect":
        return nn.Identity()
    if op == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, 0, track)
    if op == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, 1, track)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown op {op!r}")


class InferCell(nn.Module):
    def __init__(self, arch_str: str, channels: int, track: bool):
        super().__init__()
        self.edges = EDGES
        self.layers = nn.ModuleList(_make_op(op, channels, track) for op in parse_arch(arch_str))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        k = 0
        for target in (1, 2, 3):
            total = None
            for source in range(target):
                out = self.layers[k](nodes[source])
                total = out if total is None else total + out
                k += 1
            nodes.append(total)
        return nodes[3]


class ResNetBasicBlock(nn.Module):
    """NB201's reduction block: two ReLU-Conv-BN 3x3 (first with stride 2) + avgpool/1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int, track: bool):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1, track)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, track)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class TinyNetwork(nn.Module):
    """NB201 macro skeleton; ``forward`` returns logits, ``features`` the pooled features."""

    def __init__(self, arch_str: str, num_classes: int, C: int = 16, N: int = 5, track_running_stats: bool = True):
        super().__init__()
        parse_arch(arch_str)
        self.arch_str = arch_str
        track = track_running_stats
        self.stem = nn.Sequential(
            nn.Conv2d(3, C, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(C, affine=True, track_running_stats=track),
        )
        cells: list[nn.Module] = []
        c_prev = C
        for stage, channels in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                cells.append(ResNetBasicBlock(c_prev, channels, track))
            cells.extend(InferCell(arch_str, channels, track) for _ in range(N))
            c_prev = channels
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(
            nn.BatchNorm2d(c_prev, affine=True, track_running_stats=track), nn.ReLU(inplace=False)
        )
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        return self.global_pooling(self.lastact(x)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build_network(arch_str: str, num_classes: int, *, track_running_stats: bool = True) -> TinyNetwork:
    """NB201 TinyNetwork (C=16, N=5) for ``arch_str``; ``forward`` returns the logits.

    ``track_running_stats=True`` is how the VKDNW reference builds it (eval mode then uses
    the initial running statistics, mean 0 and variance 1).
    """
    return TinyNetwork(arch_str, num_classes, track_running_stats=track_running_stats)
