"""VKDNW as a proxy group (Tybl et al., CVPR 2025): the entropy of the deciles of the empirical
Fisher spectrum of a fresh net, with the deciles themselves and aleph as further columns. The
Fisher matrix, its fast Jacobian and the spectrum are :mod:`vkdnw.proxies.fisher`.
"""

from __future__ import annotations

import math

import torch

from vkdnw.proxies.common import fresh_net, random_input
from vkdnw.proxies.fisher import N_DECILES, entropy, fisher, spectrum_deciles
from vkdnw.proxies.registry import NetContext, register_proxy
from vkdnw.spaces.nb201 import aleph

LAMBDA_COLUMNS = tuple(f"vkdnw_lambda_{k}" for k in range(1, N_DECILES + 1))


# ----------------------------------------------------------------------------- proxy


def vkdnw_row(ctx: NetContext, x: torch.Tensor, s: dict) -> dict[str, float]:
    """VKDNW entropy, lambda deciles 1..9 and aleph of ``ctx``'s net, fresh (Kaiming-normal
    fan_in, BN in eval mode), on the batch ``x``; float64. The ``vkdnw`` and ``vkdnw_real``
    groups differ only in where ``x`` comes from."""
    net = fresh_net(ctx)
    g = torch.Generator().manual_seed(ctx.seed) if s["position"] == "random" else None
    F = fisher(net, x, n_tensors=int(s["n_tensors"]), position=s["position"],
               per_tensor=int(s["per_tensor"]), fim=s["fim"], generator=g)
    row: dict[str, float] = {"aleph": float(aleph(ctx.arch_str))}
    q = spectrum_deciles(F)
    row.update({c: float(v) for c, v in zip(LAMBDA_COLUMNS, q)})
    row["vkdnw"] = entropy(q)
    if not all(math.isfinite(v) for v in row.values()):
        raise FloatingPointError("non-finite VKDNW value")
    return row


@register_proxy("vkdnw", ranks={"VKDNW": "vkdnw"},
                version=1, columns=("vkdnw", *LAMBDA_COLUMNS, "aleph"), default_run=True,
                # The paper's: batch 64, 128 tensors, the first weight of each, the authors' FIM.
                settings={"batch_size": 64, "n_tensors": 128, "position": 0.0, "per_tensor": 1, "fim": "reference"})
def score_vkdnw(ctx: NetContext) -> dict[str, float]:
    """VKDNW entropy, lambda deciles 1..9 and aleph of one net. Higher VKDNW is better.

    Random input ``randn(batch_size, 3, R, R)`` from the net's own stream.
    """
    s = ctx.group_settings("vkdnw")
    return vkdnw_row(ctx, random_input(ctx, int(s["batch_size"])), s)
