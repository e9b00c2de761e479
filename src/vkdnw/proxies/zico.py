"""ZiCo (Li et al.; AZ-NAS reproduction): inverse coefficient of variation of gradients.

Higher is better. Init: Kaiming-normal fan_in. BN: train mode. Input: two labelled batches
(real images in the paper). For each conv/linear layer, over the two batches' weight
gradients: ``s = sum_i mean|g_i| / std(g_i)`` over elements with nonzero std (population
std); the score is ``sum over layers of log(s)``, skipping layers with s = 0.
Precision: float32 as the reference, or float64 (the ``dtype`` setting: same init and input,
cast): where the two batches' gradients nearly agree, float32's std is rounding.
"""

from __future__ import annotations

import math

import torch

from vkdnw.proxies.common import fresh_net
from vkdnw.proxies.precision import in_dtype, proxy_dtype
from vkdnw.proxies.registry import NetContext, register_proxy
from vkdnw.proxies.zc import batches, cross_entropy, finite_or_raise, weight_layers

N_BATCHES = 2


def zico_from_grads(per_layer: list[torch.Tensor]) -> float:
    """``per_layer[l]`` is (n_batches, n_weights) of layer l's gradients."""
    total = 0.0
    for g in per_layer:
        std = g.std(dim=0, unbiased=False)
        nz = std != 0
        s = float((g.abs().mean(dim=0)[nz] / std[nz]).sum())
        if s != 0:
            total += math.log(s)
    return total


@register_proxy("zico", ranks={"ZiCo": "zico"},
                version=1, columns=("zico", "input"), paper_input="real", float64=True)
def score_zico(ctx: NetContext) -> dict:
    dtype = proxy_dtype(ctx, "zico")
    net = in_dtype(fresh_net(ctx), dtype).train()
    weights = [m.weight for m in weight_layers(net)]
    grads: list[list[torch.Tensor]] = [[] for _ in weights]
    bs = batches(ctx, "zico", n_batches=N_BATCHES)
    for b in bs:
        for k, g in enumerate(torch.autograd.grad(cross_entropy(net(b.x.to(dtype)), b.y), weights, allow_unused=True)):
            if g is not None:
                grads[k].append(g.detach().reshape(-1).double())
    per_layer = [torch.stack(g) for g in grads if len(g) == N_BATCHES]
    return {**finite_or_raise({"zico": zico_from_grads(per_layer)}, "zico"), "input": bs[0].kind}
