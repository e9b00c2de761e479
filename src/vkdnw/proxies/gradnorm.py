"""GradNorm (Abdelfattah et al.; AZ-NAS reproduction): the L2 norm of the loss gradient.

Higher is better. Init: Kaiming-normal fan_in. BN: train mode. Input: one batch with labels
(noise with random labels in the paper). Score: ``sqrt(sum_p ||dL/dp||^2)`` over every
parameter (BN included), L the mean cross-entropy.
"""

from __future__ import annotations

import torch

from vkdnw.proxies.common import fresh_net
from vkdnw.proxies.registry import NetContext, register_proxy
from vkdnw.proxies.zc import batches, cross_entropy, finite_or_raise


@register_proxy("gradnorm", ranks={"GradNorm": "gradnorm"},
                version=1, columns=("gradnorm", "input"), paper_input="random")
def score_gradnorm(ctx: NetContext) -> dict:
    net = fresh_net(ctx).train()
    b = batches(ctx, "gradnorm")[0]
    params = [p for p in net.parameters() if p.requires_grad]
    grads = torch.autograd.grad(cross_entropy(net(b.x), b.y), params, allow_unused=True)
    sq = sum(float(g.double().pow(2).sum()) for g in grads if g is not None)
    return {**finite_or_raise({"gradnorm": sq**0.5}, "gradnorm"), "input": b.kind}
