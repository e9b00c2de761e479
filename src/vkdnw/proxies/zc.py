"""What the zero-cost proxies other than VKDNW share: their settings and their input.

Every such proxy reads ``ctx.settings[<proxy>]`` with ``batch_size`` and ``data`` (a dataset
folder, or null for noise). The workflow fills ``data`` only for the proxies the paper fed
real images (each group's ``input`` setting, by default the paper's), so each row's ``input`` column says what was used.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from vkdnw.data import Batch, input_batches
from vkdnw.proxies.registry import NetContext

def zc_settings(ctx: NetContext, name: str) -> tuple[int, str | None]:
    """(batch size, dataset folder or None) of group ``name``."""
    s = ctx.group_settings(name)
    return int(s["batch_size"]), s.get("data")


def batches(ctx: NetContext, name: str, n_batches: int = 1) -> list[Batch]:
    batch_size, data = zc_settings(ctx, name)
    return input_batches(ctx.arch_str, ctx.dataset, ctx.seed, batch_size, n_batches, data, ctx.device)


def weight_layers(model: nn.Module) -> list[nn.Module]:
    """Conv and linear layers in module order: the layers SNIP, GraSP, SynFlow and ZiCo sum over."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, y)


def finite_or_raise(row: dict[str, float], name: str) -> dict[str, float]:
    """A non-finite score is recorded as NaN with an error by the shard, not written as a number."""
    bad = [k for k, v in row.items() if isinstance(v, float) and v != v]
    if bad:
        raise ArithmeticError(f"{name}: NaN in {bad}")
    return row
