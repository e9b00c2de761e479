"""AZ-NAS (Lee & Ham, CVPR 2024): expressivity, progressivity and trainability.

Higher is better for all three. Init: Kaiming-normal fan_in. BN: train mode. Input: one noise
batch (as in the paper). The features are the stem output and every cell's output (18).

* expressivity: for each feature map, the entropy of the normalised eigenvalues of the
  channel covariance over all (sample, pixel) positions, summed over the feature maps;
* progressivity: the smallest increase of that entropy from one feature map to the next;
* trainability: for each cell, the spectral norm s of the Jacobian sample
  ``E[g_in g_out^T]`` with Rademacher ``g_out`` back-propagated through the cell (the input
  is pixel-unshuffled where the cell halves the resolution), scored ``2 - s - 1/(s + 1e-6)``
  and averaged over the cells; an identity cell scores -inf. A NaN becomes -inf, as in the
  reference.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vkdnw.proxies.common import fresh_net
from vkdnw.proxies.registry import NetContext, register_proxy
from vkdnw.proxies.zc import batches
from vkdnw.rng import generator


def cell_features(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    feats = [net.stem(x)]
    for cell in net.cells:
        feats.append(cell(feats[-1]))
    return feats


def feature_entropy(feat: torch.Tensor) -> float:
    b, c, h, w = feat.shape
    f = feat.detach().permute(0, 2, 3, 1).reshape(b * h * w, c)
    f = f - f.mean(dim=0, keepdim=True)
    s = torch.linalg.eigvalsh(f.T @ f / f.shape[0])
    p = s / s.sum()
    return float((-p * torch.log(p + 1e-8)).sum())


def cell_trainability(f_in: torch.Tensor, f_out: torch.Tensor, g: torch.Generator) -> float:
    g_out = torch.randint(0, 2, f_out.shape, generator=g).to(f_out) * 2 - 1  # Rademacher
    (g_in,) = torch.autograd.grad(f_out, f_in, grad_outputs=g_out, retain_graph=True)
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return -math.inf
    if g_in.shape[2:] != g_out.shape[2:]:
        g_in = nn.functional.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
    bo, co, ho, wo = g_out.shape
    mat = g_in.permute(0, 2, 3, 1).reshape(-1, g_in.shape[1]).T @ g_out.permute(0, 2, 3, 1).reshape(-1, co)
    mat = mat / (bo * ho * wo)
    s_max = float(torch.linalg.svdvals(mat).max())
    return -s_max - 1.0 / (s_max + 1e-6) + 2.0


def _or_neg_inf(v: float) -> float:
    return -math.inf if math.isnan(v) else v


def aznas_from_features(feats: list[torch.Tensor], g: torch.Generator) -> dict[str, float]:
    """The three AZ-NAS components from a net's feature maps (stem first, each still in the
    autograd graph); NB201's cells and MobileNetV2's blocks share this."""
    ent = [feature_entropy(f) for f in feats]
    # Cells from the last to the first, as the reference draws its Rademacher signals.
    tr = [cell_trainability(feats[i - 1], feats[i], g) for i in reversed(range(1, len(feats)))]
    return {
        "expressivity": _or_neg_inf(float(sum(ent))),
        "progressivity": _or_neg_inf(min(b - a for a, b in zip(ent[:-1], ent[1:]))),
        "trainability": _or_neg_inf(sum(tr) / len(tr)),
    }


@register_proxy("aznas", version=1, columns=("expressivity", "progressivity", "trainability", "input"),
                paper_input="random",
                # Ranked only as AZ-NAS's (and VKDNW_agg's) parts: the paper has no row of each.
                component_ranks={"expressivity": "expressivity", "progressivity": "progressivity",
                                 "trainability": "trainability"})
def score_aznas(ctx: NetContext) -> dict:
    net = fresh_net(ctx).train()
    b = batches(ctx, "aznas")[0]
    g = generator(ctx.seed, ctx.dataset, ctx.arch_str, "rademacher")
    return {**aznas_from_features(cell_features(net, b.x), g), "input": b.kind}
