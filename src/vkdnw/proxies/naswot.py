"""NASWOT (Mellor et al.; AZ-NAS reproduction): log-determinant of the ReLU-code kernel.

Higher is better. Init: Kaiming-normal fan_in. BN: train mode. Input: one batch (noise in the
paper). For every ReLU, with c the binary code ``input > 0`` of each sample,
``K += c c^T + (1 - c)(1 - c)^T``; the score is ``slogdet(K)``'s log-determinant. The
reference also runs a backward pass that does not touch K; it is skipped here.
"""

from __future__ import annotations

import torch
from torch import nn

from vkdnw.proxies.common import fresh_net
from vkdnw.proxies.registry import NetContext, register_proxy
from vkdnw.proxies.zc import ZC_SOURCES, batches, finite_or_raise


@register_proxy("naswot", columns=("naswot", "input"), extra_sources=ZC_SOURCES, paper_input="random")
def score_naswot(ctx: NetContext) -> dict:
    net = fresh_net(ctx).train()
    b = batches(ctx, "naswot")[0]
    n = len(b.x)
    K = torch.zeros(n, n, dtype=torch.float64, device=ctx.device)

    def hook(_m: nn.Module, inp: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        c = (inp[0].detach().reshape(n, -1) > 0).double()
        K.add_(c @ c.T).add_((1 - c) @ (1 - c).T)

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        net(b.x)
    for h in handles:
        h.remove()
    _, logdet = torch.linalg.slogdet(K)
    return {**finite_or_raise({"naswot": float(logdet)}, "naswot"), "input": b.kind}
