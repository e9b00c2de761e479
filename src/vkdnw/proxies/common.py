"""Shared pieces of proxies: the reference init and the random input batch."""

from __future__ import annotations

import torch
from torch import nn

from vkdnw.proxies.registry import NetContext
from vkdnw.rng import generator
from vkdnw.spaces.nb201 import build_network


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
