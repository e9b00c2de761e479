"""Jacov (Mellor et al.; the AZ-NAS / VKDNW reproduction): correlation of input Jacobians.

Higher is better. Init: Kaiming-normal fan_in. BN: train mode (batch statistics). Input: one
batch (real images in the paper). The Jacobian of ``sum(logits)`` w.r.t. each input image is
flattened; with C = corrcoef over the batch and eigenvalues v of C,
``score = -sum(log(v + 1e-5) + 1 / (v + 1e-5))``.
"""

from __future__ import annotations

import numpy as np

from vkdnw.proxies.common import fresh_net
from vkdnw.proxies.registry import NetContext, register_proxy
from vkdnw.proxies.zc import batches, finite_or_raise

K = 1e-5


def jacov_score(jacobians: np.ndarray) -> float:
    corrs = np.corrcoef(jacobians)
    v = np.linalg.eigvalsh(corrs)
    return float(-np.sum(np.log(v + K) + 1.0 / (v + K)))


@register_proxy("jacov", ranks={"Jacov": "jacov"},
                version=1, columns=("jacov", "input"), paper_input="real")
def score_jacov(ctx: NetContext) -> dict:
    net = fresh_net(ctx).train()
    b = batches(ctx, "jacov")[0]
    x = b.x.clone().requires_grad_(True)
    net(x).sum().backward()
    jac = x.grad.reshape(len(x), -1).double().cpu().numpy()
    return {**finite_or_raise({"jacov": jacov_score(jac)}, "jacov"), "input": b.kind}
