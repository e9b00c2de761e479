"""TE-NAS (Chen et al., ICLR 2021; AZ-NAS reproduction): NTK condition number and the number
of linear regions, two columns. TE-NAS ranks by the sum of both ranks.

* ``ntk``: ``-cond(NTK)``, higher is better. Init: Kaiming-normal fan_in. BN: train mode.
  Input: one batch (real images in the paper). Row i of the Jacobian J is the gradient of
  ``sum_c logits[i, c]`` (through the whole batch, BN couples the samples) w.r.t. every
  parameter named ``*weight`` (conv, BN and classifier weights); NTK = J J^T in float32, as
  the reference; cond = largest / smallest eigenvalue; NaN becomes cond = 1e5.
  Rows come from B backward calls over one retained graph, as the reference does; a single
  vmapped backward (``is_grads_batched``) gives the same J but was slower on this CPU: a
  median 1.6x (1.3x to 1.9x) over the 16 nets of ``results/reference/bench/bench_ntk_b64.csv``
  (``vkdnw bench ntk``).
* ``linear_regions``: higher is better. A noise batch of the same size (always noise, as in
  the reference) goes through the net (train mode, no grad); each sample's code is the sign
  of every ReLU output; the count is ``sum_i 1 / #{j : code_j == code_i}``.
"""

from __future__ import annotations

import torch
from torch import nn

from vkdnw.proxies.common import fresh_net
from vkdnw.proxies.registry import NetContext, register_proxy
from vkdnw.proxies.zc import batches
from vkdnw.rng import generator

NAN_COND = 100000.0


def _ntk_params(net: nn.Module) -> list[torch.Tensor]:
    return [p for n, p in net.named_parameters() if "weight" in n and p.requires_grad]


def ntk_jacobian(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """J (B x P): row i is d(sum_c logits[i, c]) / d(weights), through the whole batch."""
    params = _ntk_params(net)
    s = net(x).sum(dim=1)
    jac: torch.Tensor | None = None
    for i in range(len(x)):
        grads = torch.autograd.grad(s[i], params, retain_graph=i + 1 < len(x), allow_unused=True)
        row = [g.reshape(-1) for g in grads if g is not None]
        if jac is None:  # filled in place: a list of rows plus stack would hold J twice
            jac = s.new_empty(len(x), sum(r.numel() for r in row))
        torch.cat(row, out=jac[i])
    assert jac is not None
    return jac


def ntk_jacobian_batched(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The same J from one vmapped backward; kept for ``vkdnw bench ntk``."""
    params = _ntk_params(net)
    s = net(x).sum(dim=1)
    eye = torch.eye(len(x), dtype=s.dtype, device=s.device)
    grads = torch.autograd.grad(s, params, grad_outputs=eye, is_grads_batched=True, allow_unused=True)
    return torch.cat([g.reshape(len(x), -1) for g in grads if g is not None], dim=1)


def ntk_condition(jac: torch.Tensor) -> float:
    ev = torch.linalg.eigvalsh(jac.float() @ jac.float().T)
    cond = float(ev[-1] / ev[0])
    return NAN_COND if cond != cond else cond


def linear_regions(net: nn.Module, x: torch.Tensor) -> float:
    codes: list[torch.Tensor] = []

    def hook(_m: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        if inp[0].dim() == 4:
            codes.append(torch.sign(out.detach()).reshape(len(x), -1))

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    a = torch.cat(codes, dim=1).double()
    diff = a @ (1 - a).T
    same = 1 - torch.sign(diff + diff.T)  # 1 where two samples share every sign
    return float((1.0 / same.sum(dim=1)).sum())


@register_proxy("tenas", component_ranks={"NTK": "ntk", "linear_regions": "linear_regions"},
                version=1, columns=("ntk", "linear_regions", "input"), paper_input="real")
def score_tenas(ctx: NetContext) -> dict:
    net = fresh_net(ctx).train()
    b = batches(ctx, "tenas")[0]
    cond = ntk_condition(ntk_jacobian(net, b.x))
    g = generator(ctx.seed, ctx.dataset, ctx.arch_str, "linear_regions")
    noise = torch.randn(len(b.x), 3, ctx.resolution, ctx.resolution, generator=g).to(ctx.device)
    return {"ntk": -cond, "linear_regions": linear_regions(net, noise), "input": b.kind}
