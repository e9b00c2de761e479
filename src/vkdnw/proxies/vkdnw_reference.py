"""The authors' Jacobian algorithm, re-implemented as the yardstick for the fast path.

Per sample, ``jacrev`` of a ``functional_call`` on a batch of one, vectorised over the batch
with ``vmap``; the selected scalars are spliced into otherwise frozen parameters. This is
slow and memory-hungry (it materialises every sample's backward graph at once) and exists
for tests and for ``vkdnw bench``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from vkdnw.proxies.fisher import Element, fisher_from_jacobian, select_elements


def jacobian_reference(
    model: nn.Module, inputs: torch.Tensor, elements: list[Element], dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    net = copy.deepcopy(model).to(dtype).eval()
    params = {k: v.detach() for k, v in net.named_parameters()}
    buffers = {k: v.detach() for k, v in net.named_buffers()}
    keys = [f"{e.name}#{e.index}" for e in elements]
    chosen = {k: params[e.name].reshape(-1)[e.index].clone() for k, e in zip(keys, elements)}

    def logits_of(sel: dict[str, torch.Tensor], sample: torch.Tensor) -> torch.Tensor:
        full = dict(params)
        for k, e in zip(keys, elements):
            flat = full[e.name].reshape(-1)
            flat = torch.cat([flat[: e.index], sel[k].reshape(1), flat[e.index + 1 :]])
            full[e.name] = flat.reshape(params[e.name].shape)
        return functional_call(net, (full, buffers), (sample.unsqueeze(0),)).squeeze(0)

    x = inputs.detach().to(dtype)
    jac = vmap(jacrev(logits_of), in_dims=(None, 0))(chosen, x)  # {key: B x C}
    J = torch.stack([jac[k] for k in keys], dim=-1)
    with torch.no_grad():
        logits = net(x)
    return J.detach(), logits


def fisher_reference(model: nn.Module, inputs: torch.Tensor, *, fim: str = "reference",
                     dtype: torch.dtype = torch.float64, **selection) -> torch.Tensor:
    """:func:`vkdnw.proxies.fisher.fisher` with the authors' Jacobian algorithm; ``selection``
    takes ``fisher``'s element-selection keywords (n_tensors, position, per_tensor, generator)."""
    elements = select_elements(model, **selection)
    J, logits = jacobian_reference(model, inputs, elements, dtype)
    return fisher_from_jacobian(J, logits, fim)
