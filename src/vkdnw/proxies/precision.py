"""The float precision a zero-cost proxy computes in (its ``dtype`` setting).

float32 is the reference's. ZiCo and GraSP subtract nearly equal float32 numbers (ZiCo's
std over two batches, GraSP's sum of -w * Hg), so their float32 values carry rounding of
1e-2 and 5e-4 relative, which CPUs with other float kernels do not reproduce; in float64 the
same definition is exact to far below the 1e-4 a rescoring check asks for.
"""

from __future__ import annotations

import torch
from torch import nn

from vkdnw.proxies.registry import NetContext

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def proxy_dtype(ctx: NetContext, name: str) -> torch.dtype:
    return DTYPES[ctx.group_settings(name)["dtype"]]


def in_dtype(net: nn.Module, dtype: torch.dtype) -> nn.Module:
    """The net cast after its float32 init, so both precisions start from the same weights."""
    return net if dtype == torch.float32 else net.to(dtype)
