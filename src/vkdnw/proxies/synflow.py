"""SynFlow (Tanaka et al., as in zero-cost-nas and AZ-NAS): synaptic flow.

Higher is better. Init: Kaiming-normal fan_in, then every parameter replaced by its absolute
value; BN layers bypassed (identity), as AZ-NAS does; float64. Input: a single all-ones
image, so no data and no random input. Score: ``sum |w * d(sum logits)/dw|`` over conv and
linear weights.
"""

from __future__ import annotations

import torch
from torch import nn

from vkdnw.proxies.common import fresh_net
from vkdnw.proxies.registry import NetContext, register_proxy
from vkdnw.proxies.zc import finite_or_raise, weight_layers


def bypass_batchnorm(model: nn.Module) -> nn.Module:
    for name, child in model.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(model, name, nn.Identity())
        else:
            bypass_batchnorm(child)
    return model


@register_proxy("synflow", ranks={"SynFlow": "synflow"},
                version=1, columns=("synflow", "input"), paper_input="random")
def score_synflow(ctx: NetContext) -> dict:
    net = bypass_batchnorm(fresh_net(ctx)).double().train()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    x = torch.ones(1, 3, ctx.resolution, ctx.resolution, dtype=torch.float64, device=ctx.device)
    weights = [m.weight for m in weight_layers(net)]
    grads = torch.autograd.grad(net(x).sum(), weights, allow_unused=True)
    score = sum(float((w.detach() * g).abs().sum()) for w, g in zip(weights, grads) if g is not None)
    return {**finite_or_raise({"synflow": score}, "synflow"), "input": "ones"}
