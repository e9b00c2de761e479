"""NASWOT (Mellor et al.; AZ-NAS reproduction): log-determinant of the ReLU-code kernel.

Higher is better. Init: Kaiming-normal fan_in. BN: train mode. Input: one batch (noise in the
paper). For every ReLU, with c the binary code ``input > 0`` of each sample,
``K += c c^T + (1 - c)(1 - c)^T``; the score is ``slogdet(K)``'s log-determinant. The
reference also runs a backward pass that does not touch K; it is skipped here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from vkdnw.proxies.common import fresh_net
from vkdnw.proxies.registry import NetContext, register_proxy
from vkdnw.proxies.zc import batches, finite_or_raise

# Float32 sums of 0/1 products are exact integers up to 2**24 (its 24-bit significand).
EXACT_FLOAT32_COUNT = 2**24


def code_kernel(codes: torch.Tensor) -> torch.Tensor:
    """``c c^T + (1 - c)(1 - c)^T`` in float64 for boolean codes ``c`` (samples x units).

    With s the per-sample count of active units and D the number of units, the second term
    is ``D - s_i - s_j + (c c^T)_ij``, so one matmul does: ``2 c c^T - s_i - s_j + D``. Its
    entries are integer counts <= D, which a float32 matmul gets exactly while D < 2**24 (16,384
    units for NB201 at 32 px), so K is the float64 two-matmul form's to the bit at a fraction
    of its cost (`vkdnw bench naswot-kernel`)."""
    d = codes.shape[1]
    f = codes.to(torch.float32 if d < EXACT_FLOAT32_COUNT else torch.float64)
    s = f.sum(1, keepdim=True).double()
    return 2 * (f @ f.T).double() - s - s.T + d


def code_kernel_reference(codes: torch.Tensor) -> torch.Tensor:
    """The definition, two float64 matmuls: what :func:`code_kernel` must equal (tests, bench)."""
    c = codes.double()
    return c @ c.T + (1 - c) @ (1 - c).T


KernelFn = Callable[[torch.Tensor], torch.Tensor]


def naswot_logdet(net: nn.Module, x: torch.Tensor, kernel: KernelFn = code_kernel) -> float:
    """log|K| of the ReLU-code kernel summed over every ReLU's input, one forward pass."""
    n = len(x)
    K = torch.zeros(n, n, dtype=torch.float64, device=x.device)

    def hook(_m: nn.Module, inp: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        K.add_(kernel(inp[0].detach().reshape(n, -1) > 0))

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    return float(torch.linalg.slogdet(K)[1])


@register_proxy("naswot", ranks={"NASWOT": "naswot"},
                version=1, columns=("naswot", "input"), paper_input="random")
def score_naswot(ctx: NetContext) -> dict:
    net = fresh_net(ctx).train()
    b = batches(ctx, "naswot")[0]
    return {**finite_or_raise({"naswot": naswot_logdet(net, b.x)}, "naswot"), "input": b.kind}
