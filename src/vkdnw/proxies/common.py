"""Shared pieces of proxies: the reference init and the random input batch."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from vkdnw.proxies.registry import NetContext
from vkdnw.rng import generator
from vkdnw.spaces.nb201_net import build_network


def kaiming_init_(model: nn.Module, g: torch.Generator) -> nn.Module:
    """The reference init: Kaiming-normal (fan_in, relu) conv/linear weights, zero biases,
    BN weight 1 and bias 0. Drawn from ``g`` in module order, so it is reproducible."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu", generator=g)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def fresh_net(ctx: NetContext) -> nn.Module:
    """A newly built, reference-initialised NB201 net for ``ctx`` (float32, on ctx.device)."""
    net = build_network(ctx.arch_str, ctx.num_classes)
    kaiming_init_(net, generator(ctx.seed, ctx.dataset, ctx.arch_str, "init"))
    return net.to(ctx.device)


def random_input(ctx: NetContext, batch_size: int) -> torch.Tensor:
    """White-noise images ``randn(B, 3, R, R)`` drawn from the net's own input stream."""
    g = generator(ctx.seed, ctx.dataset, ctx.arch_str, "input")
    x = torch.randn(batch_size, 3, ctx.resolution, ctx.resolution, generator=g)
    return x.to(ctx.device)


@contextlib.contextmanager
def ieee_float32(device: torch.device) -> Iterator[None]:
    """IEEE float32 convolutions and matmuls on CUDA for the duration, whatever the process's
    setting. PyTorch lets cuDNN round float32 convolutions to TF32 (10-bit mantissa) by default;
    VKDNW's read-off derivatives are sums of g * x over every position, which cancel, so TF32
    moved a float32 Fisher matrix by 9-100% of its largest entry on an H200. Float64 is
    unaffected; on the CPU this does nothing."""
    if torch.device(device).type != "cuda":
        yield
        return
    conv, mm = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    before = (conv.fp32_precision, mm.fp32_precision)
    conv.fp32_precision, mm.fp32_precision = "ieee", "ieee"
    try:
        yield
    finally:
        conv.fp32_precision, mm.fp32_precision = before
