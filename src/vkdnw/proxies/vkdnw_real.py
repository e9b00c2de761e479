"""VKDNW on real images: the right-hand half of the paper's Table 5 (an ablation group).

The same computation as :mod:`vkdnw.proxies.vkdnw` (fresh Kaiming-initialised net, BN in eval
mode, the first ``n_tensors`` tensors, Tanabe–Sagae factor, deciles, entropy), but the batch
comes from :func:`vkdnw.data.input_batches`: training images of the dataset at
``settings["vkdnw_real"]["data"]``. VKDNW's empirical Fisher uses the net's own predicted
distribution, so labels are not used. Higher is better.

It is a group of its own rather than an option of ``vkdnw`` so that the real-input ablation
never changes the main VKDNW group's settings, and so never reruns its scores. Without a data path the batch is the noise VKDNW itself sees (the same random
stream), so the scores equal ``vkdnw``'s and the rows say ``input = random``.
"""

from __future__ import annotations

from vkdnw.data import input_batches
from vkdnw.proxies.registry import NetContext, register_proxy
from vkdnw.proxies.vkdnw import LAMBDA_COLUMNS, vkdnw_row


@register_proxy("vkdnw_real", version=1, columns=("vkdnw", *LAMBDA_COLUMNS, "aleph", "input"),
                paper_input="real", settings="vkdnw", ablation_only=True)
def score_vkdnw_real(ctx: NetContext) -> dict:
    s = ctx.group_settings("vkdnw_real")
    batch = input_batches(ctx.arch_str, ctx.dataset, ctx.seed, int(s["batch_size"]),
                          data_path=s.get("data"), device=ctx.device)[0]
    return {**vkdnw_row(ctx, batch.x, s), "input": batch.kind}
