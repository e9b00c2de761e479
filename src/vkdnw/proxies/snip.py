"""SNIP (Lee et al.; AZ-NAS reproduction): connection sensitivity.

Higher is better. Init: Kaiming-normal fan_in. BN: train mode. Input: one labelled batch
(real images in the paper). The reference multiplies each conv/linear weight by a mask of
ones and sums ``|dL/dmask|``; since ``dL/dmask = w * dL/dw`` at mask = 1, the score is
``sum |w * dL/dw|`` over conv and linear weights (one backward, no mask copies).
"""

from __future__ import annotations

import torch

from vkdnw.proxies.common import fresh_net
from vkdnw.proxies.registry import NetContext, register_proxy
from vkdnw.proxies.zc import batches, cross_entropy, finite_or_raise, weight_layers


@register_proxy("snip", ranks={"SNIP": "snip"},
                version=1, columns=("snip", "input"), paper_input="real")
def score_snip(ctx: NetContext) -> dict:
    net = fresh_net(ctx).train()
    b = batches(ctx, "snip")[0]
    weights = [m.weight for m in weight_layers(net)]
    grads = torch.autograd.grad(cross_entropy(net(b.x), b.y), weights, allow_unused=True)
    score = sum(float((w.detach() * g).abs().double().sum()) for w, g in zip(weights, grads) if g is not None)
    return {**finite_or_raise({"snip": score}, "snip"), "input": b.kind}
