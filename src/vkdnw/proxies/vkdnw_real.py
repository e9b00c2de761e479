"""VKDNW on real images: the right-hand half of the paper's Table 5 (an ablation group).

The same computation as :mod:`vkdnw.proxies.vkdnw` (fresh Kaiming-initialised net, BN in eval
mode, the first ``n_tensors`` tensors, Tanabe–Sagae factor, deciles, entropy), but the batch
comes from :func:`vkdnw.data.input_batches`: training images of the dataset at
``settings["vkdnw_real"]["data"]``. VKDNW's empirical Fisher uses the net's own predicted
distribution, so labels are not used. Higher is better.

It is a group of its own rather than an option of ``vkdnw`` so that adding the real-input
ablation never changes the code hash, and so never reruns the scores, of the main VKDNW
group. Without a data path the batch is the noise VKDNW itself sees (the same random
stream), so the scores equal ``vkdnw``'s and the rows say ``input = random``.
"""

from __future__ import annotations

import math

import torch

from vkdnw.data import input_batches
from vkdnw.proxies.common import fresh_net
from vkdnw.proxies.registry import NetContext, register_proxy
from vkdnw.proxies.vkdnw import LAMBDA_COLUMNS, entropy, fisher, spectrum_deciles
from vkdnw.spaces.nb201 import aleph

DEFAULTS = {"batch_size": 64, "n_tensors": 128, "position": 0.0, "per_tensor": 1, "fim": "reference"}


@register_proxy("vkdnw_real", columns=("vkdnw", *LAMBDA_COLUMNS, "aleph", "input"),
                extra_sources=("proxies/vkdnw.py", "data.py"), paper_input="real")
def score_vkdnw_real(ctx: NetContext) -> dict:
    s = {**DEFAULTS, **ctx.settings.get("vkdnw_real", {})}
    net = fresh_net(ctx)
    batch = input_batches(ctx.arch_str, ctx.dataset, ctx.seed, int(s["batch_size"]),
                          data_path=s.get("data"), device=ctx.device)[0]
    g = torch.Generator().manual_seed(ctx.seed) if s["position"] == "random" else None
    F = fisher(net, batch.x, n_tensors=int(s["n_tensors"]), position=s["position"],
               per_tensor=int(s["per_tensor"]), fim=s["fim"], generator=g)
    q = spectrum_deciles(F)
    row: dict = {"aleph": float(aleph(ctx.arch_str)), "vkdnw": entropy(q)}
    row.update({c: float(v) for c, v in zip(LAMBDA_COLUMNS, q)})
    if not all(math.isfinite(v) for v in row.values()):
        raise FloatingPointError("non-finite VKDNW value")
    return {**row, "input": batch.kind}
