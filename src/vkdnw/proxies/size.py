"""Size proxies: aleph (trainable tensors), params and FLOPs.

FLOPs follow ``torch.utils.flop_counter.FlopCounterMode``: 2 x multiply-accumulates of
convolutions and matmuls for one image at the dataset's resolution (BN, ReLU, pooling and
additions are not counted). On NB201 this ranks exactly like ``params``: per stage C^2 x H x W
is constant, so both are increasing functions of (#1x1 + 9 x #3x3) conv ops.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from vkdnw.proxies.registry import NetContext, register_proxy
from vkdnw.spaces.nb201 import aleph
from vkdnw.spaces.nb201_net import build_network


def count_flops(model: torch.nn.Module, resolution: int) -> int:
    x = torch.zeros(1, 3, resolution, resolution)
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return int(counter.get_total_flops())


@register_proxy("size", ranks={"FLOPs": "flops", "params": "params", "aleph": "aleph"},
                version=1, columns=("aleph", "params", "flops"), settings={},
                default_run=True)
def score_size(ctx: NetContext) -> dict[str, float]:
    """Deterministic (no random state). Higher is "better" for all three, as in the paper."""
    net = build_network(ctx.arch_str, ctx.num_classes)
    return {
        "aleph": float(aleph(ctx.arch_str)),
        "params": float(sum(p.numel() for p in net.parameters())),
        "flops": float(count_flops(net, ctx.resolution)),
    }
