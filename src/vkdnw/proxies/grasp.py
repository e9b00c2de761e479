"""GraSP (Wang et al., as in zero-cost-nas and AZ-NAS): gradient signal preservation.

Higher is better (the reproduction's sign: ``-w * Hg``). Init: Kaiming-normal fan_in. BN:
train mode. Input: one labelled batch (real images in the paper). With g = dL/dw over conv
and linear weights and H the Hessian of L, ``score = sum(-w * Hg)``. Precision: float32 as
the reference, or float64 (the ``dtype`` setting: same init and input, cast), which removes
the sum's cancellation rounding.

The reference runs two identical forward passes (one for g, one with ``create_graph`` for
Hg). In train mode both see the same batch and give the same graph, so one forward with
``create_graph=True`` yields g and then Hg by a second backward: the same numbers, one
forward pass cheaper.
"""

from __future__ import annotations

import torch

from vkdnw.proxies.common import fresh_net
from vkdnw.proxies.precision import in_dtype, proxy_dtype
from vkdnw.proxies.registry import NetContext, register_proxy
from vkdnw.proxies.zc import batches, cross_entropy, finite_or_raise, weight_layers


@register_proxy("grasp", ranks={"GraSP": "grasp"},
                version=1, columns=("grasp", "input"), paper_input="real", float64=True)
def score_grasp(ctx: NetContext) -> dict:
    dtype = proxy_dtype(ctx, "grasp")
    net = in_dtype(fresh_net(ctx), dtype).train()
    b = batches(ctx, "grasp")[0]
    weights = [m.weight for m in weight_layers(net)]
    loss = cross_entropy(net(b.x.to(dtype)), b.y)
    grads = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
    z = sum((g.detach() * g).sum() for g in grads if g is not None)
    hg = torch.autograd.grad(z, weights, allow_unused=True)
    score = sum(float((-w.detach() * h).double().sum()) for w, h in zip(weights, hg) if h is not None)
    return {**finite_or_raise({"grasp": score}, "grasp"), "input": b.kind}
