"""Zen-NAS (Lin et al.; AZ-NAS reproduction): expected feature-map change under a small
input perturbation, scaled by the BN statistics.

Higher is better. Init: standard normal N(0, 1) conv and linear weights, zero biases, BN
weight 1 and bias 0 (Zen-NAS's own init, not Kaiming). BN: train mode with running
statistics (momentum 0.1), updated by the two forward passes. Input: two noise batches x1,
x2; with f the pre-pooling features (after the last BN-ReLU),
``score = log(mean_b sum_chw |f(x1) - f(x1 + 0.01 x2)|) + sum_BN log(sqrt(mean(running_var)))``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vkdnw.proxies.registry import NetContext, register_proxy
from vkdnw.proxies.zc import batches, finite_or_raise
from vkdnw.rng import generator
from vkdnw.spaces.nb201_net import build_network

MIXUP_GAMMA = 1e-2


def gaussian_init_(model: nn.Module, g: torch.Generator) -> nn.Module:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.normal_(generator=g)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1.0)
                m.bias.zero_()
    return model


def pre_gap(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    h = net.stem(x)
    for cell in net.cells:
        h = cell(h)
    return net.lastact(h)


@register_proxy("zen", ranks={"ZenNAS": "zen"},
                version=1, columns=("zen", "input"), paper_input="random")
def score_zen(ctx: NetContext) -> dict:
    net = build_network(ctx.arch_str, ctx.num_classes)
    gaussian_init_(net, generator(ctx.seed, ctx.dataset, ctx.arch_str, "init")).to(ctx.device).train()
    b1, b2 = batches(ctx, "zen", n_batches=2)
    with torch.no_grad():
        out = pre_gap(net, b1.x)
        mixed = pre_gap(net, b1.x + MIXUP_GAMMA * b2.x)
        delta = (out - mixed).abs().sum(dim=(1, 2, 3)).mean()
        log_bn = sum(math.log(float(m.running_var.mean().sqrt()))
                     for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    score = math.log(float(delta)) + log_bn
    return {**finite_or_raise({"zen": score}, "zen"), "input": b1.kind}
