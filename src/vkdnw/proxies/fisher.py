"""VKDNW's Fisher matrix and its spectrum (Tybl et al., CVPR 2025): the weights chosen, the
fast Jacobian, the empirical Fisher, the deciles and their entropy.

Definition (as the reference code computed it; see docs/design.md):

* the first ``n_tensors`` tensors of ``named_parameters()`` (BN included), and from each the
  element(s) at relative position ``position`` (flat index ``round(p * (numel - 1))``);
* per-sample Jacobians ``J_i = d logits(x_i) / d theta_sel`` (C x p) in eval mode;
* ``prob = softmax(logits) * (1 - 0.05) + 0.05 / C`` and the Tanabe-Sagae factor ``L`` with
  ``L L^T = diag(prob) - prob prob^T``;
* ``F = mean_i (L_i J_i)^T (L_i J_i)`` ("reference", what the authors' code does) or
  ``F = mean_i J_i^T L_i L_i^T J_i`` ("exact", the textbook empirical Fisher);
* ``lambda`` = singular values of F, deciles ``q`` at 0.1..0.9, ``t = q / (sum|q| + 1e-10)``,
  ``VKDNW = -sum t log(t + 1e-10)``.

Speed. The authors compute J with ``vmap(jacrev(functional_call))`` per sample. We get the
identical J from a handful of batched reverse sweeps:

* At init in eval mode BN is an affine map with its initial running statistics, so each
  sample's logits depend on that sample alone; one batched sweep gives every sample's
  input-gradients at once.
* ``logits = W @ pooled + b``: sweeping the min(C, 64) rows of either ``W`` or the identity
  on the pooled features is enough (``J_logits = W @ J_pooled`` when C > 64).
* Each sweep carries activation gradients only (parameters do not require grad). The
  derivative for one selected scalar is read off at its module: a conv weight
  ``W[o,i,kh,kw]`` is ``sum(g[:, o] * x_shifted[:, i])``, BN ``gamma[c]`` is
  ``sum(g[:, c] * x_hat[:, c])``, ``beta[c]`` is ``sum(g[:, c])``.
* Everything runs in float64 and channels-last: in float32 the lower deciles sit at the rounding floor and the
  score moves with the thread count (docs/design.md, "Numerical precision").

Forward mode (jvp) would need one pass per selected tensor (up to 128) over the rest of the
network; with at most 64 reverse sweeps here it does not pay for NB201 and is not used.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vkdnw.proxies.common import ieee_float32

ALPHA = 0.05
N_DECILES = 9


# ----------------------------------------------------------------------------- selection


@dataclass(frozen=True)
class Element:
    """One selected scalar: parameter ``name`` at flat index ``index``."""

    name: str
    index: int


def select_elements(
    model: nn.Module,
    n_tensors: int = 128,
    position: float | str = 0.0,
    per_tensor: int = 1,
    generator: torch.Generator | None = None,
) -> list[Element]:
    """The parameter elements VKDNW differentiates, in column order of F.

    ``position`` is a relative index in [0, 1] (Table 9's p) or ``"random"``; with
    ``per_tensor = k > 1`` the k elements are spread evenly over the tensor.
    """
    if per_tensor < 1:
        raise ValueError(f"per_tensor must be >= 1, got {per_tensor}")
    out: list[Element] = []
    for name, p in list(model.named_parameters())[:n_tensors]:
        n = p.numel()
        if position == "random":
            idx = torch.randperm(n, generator=generator)[: min(per_tensor, n)].sort().values.tolist()
        else:
            pos = float(position)
            if not 0.0 <= pos <= 1.0:
                raise ValueError(f"position must be in [0, 1] or 'random', got {position!r}")
            rel = [pos] if per_tensor == 1 else np.linspace(0.0, 1.0, per_tensor).tolist()
            idx = sorted({int(round(r * (n - 1))) for r in rel})
        out.extend(Element(name, i) for i in idx)
    return out


# ----------------------------------------------------------------------------- fast Jacobian


class UnsupportedForFastPath(Exception):
    """Raised when a selected parameter lives in a module the fast path cannot read off."""


def _owner(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    mod_name, _, attr = name.rpartition(".")
    return model.get_submodule(mod_name), attr


class _Reader:
    """Reads the per-sample derivative of the selected elements of one module off the
    gradient of that module's output during a reverse sweep."""

    def __init__(self, module: nn.Module, elements: list[tuple[int, str, int]]):
        self.module = module
        self.elements = elements  # (column, attr, flat index)
        self.factors: list[torch.Tensor | None] = []

    def capture(self, x: torch.Tensor) -> None:
        # One forward pass, one set of factors: the batched sweeps run a forward per chunk.
        x = x.detach()
        self.factors = [self._factor(self.module, attr, idx, x) for _, attr, idx in self.elements]

    @staticmethod
    def _factor(m: nn.Module, attr: str, idx: int, x: torch.Tensor) -> torch.Tensor | None:
        if isinstance(m, nn.Conv2d):
            if attr == "bias":
                return None
            o, i, kh, kw = np.unravel_index(idx, tuple(m.weight.shape))
            if m.padding_mode != "zeros" or isinstance(m.padding, str):
                raise UnsupportedForFastPath(f"conv padding {m.padding!r}/{m.padding_mode}")
            groups_in = m.in_channels // m.groups
            ic = (int(o) // (m.out_channels // m.groups)) * groups_in + int(i)
            ph, pw = m.padding
            sh, sw = m.stride
            dh, dw = m.dilation
            xp = nn.functional.pad(x[:, ic], (pw, pw, ph, ph))
            ho = (xp.shape[1] - dh * (m.kernel_size[0] - 1) - 1) // sh + 1
            wo = (xp.shape[2] - dw * (m.kernel_size[1] - 1) - 1) // sw + 1
            r0, c0 = int(kh) * dh, int(kw) * dw
            return xp[:, r0 : r0 + sh * (ho - 1) + 1 : sh, c0 : c0 + sw * (wo - 1) + 1 : sw]
        if isinstance(m, nn.BatchNorm2d):
            if attr == "bias":
                return None
            c = idx
            if m.training or m.running_mean is None:
                raise UnsupportedForFastPath("BN must be in eval mode with running statistics")
            return (x[:, c] - m.running_mean[c]) / torch.sqrt(m.running_var[c] + m.eps)
        if isinstance(m, nn.Linear):
            if attr == "bias":
                return None
            o, i = divmod(idx, m.in_features)
            return x[..., i]
        raise UnsupportedForFastPath(type(m).__name__)

    def channel(self, attr: str, idx: int) -> int:
        m = self.module
        if isinstance(m, nn.Conv2d):
            return idx if attr == "bias" else int(np.unravel_index(idx, tuple(m.weight.shape))[0])
        if isinstance(m, nn.BatchNorm2d):
            return idx
        return idx if attr == "bias" else idx // m.in_features

    def read(self, g: torch.Tensor, row: torch.Tensor) -> None:
        """Write d(out)/d(element) per sample into ``row`` (B x p) from output grad ``g``."""
        for (col, attr, idx), f in zip(self.elements, self.factors):
            gc = g[:, self.channel(attr, idx)]
            val = gc if f is None else gc * f
            row[:, col] = val.reshape(val.shape[0], -1).sum(1)


def classifier_head(model: nn.Module) -> nn.Linear | None:
    """The final classifier if the model exposes ``features`` + a Linear ``classifier``."""
    head = getattr(model, "classifier", None)
    if isinstance(head, nn.Linear) and callable(getattr(model, "features", None)):
        return head
    return None


# Images per forward pass of the batched sweeps: replicas x batch. 1,024 NB201 images at 32 px
# keep a float64 graph to a few GB of GPU memory.
BATCHED_IMAGES = 1024


def jacobian_fast(
    model: nn.Module,
    inputs: torch.Tensor,
    elements: list[Element],
    dtype: torch.dtype = torch.float64,
    *,
    sweeps: str = "auto",
    images_per_pass: int = BATCHED_IMAGES,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample Jacobians (B x C x p) of the logits w.r.t. ``elements``, and the logits.

    Exact for models whose samples do not interact (eval-mode BN); see the module docstring.
    ``sweeps`` chooses how the K = min(C, 64) reverse sweeps run:

    * ``"sequential"``: one forward, then K reverse sweeps over the retained graph. Fewest
      operations: the fastest on a CPU.
    * ``"batched"``: the batch is replicated K times and replica k is swept with cotangent row
      k, so one forward and one reverse pass of ``images_per_pass`` images do the work of
      several sweeps. Samples do not interact, so each replica's gradients are exactly its
      sweep's. The forward is repeated per chunk, but every kernel is large: what a GPU needs.
    * ``"auto"``: batched on CUDA, sequential elsewhere.
    """
    if sweeps == "auto":
        sweeps = "batched" if inputs.device.type == "cuda" else "sequential"
    if sweeps not in ("sequential", "batched"):
        raise ValueError(f"sweeps must be 'auto', 'sequential' or 'batched', got {sweeps!r}")
    net = copy.deepcopy(model).to(dtype).eval()
    net.requires_grad_(False)
    x = inputs.detach().to(dtype)
    if x.dim() == 4:
        # float64 convolutions run 1.2-1.7x faster in NHWC on CPU (measured, 1 thread).
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    head = classifier_head(net)
    head_name = next((n for n, m in net.named_modules() if m is head), None)

    readers: dict[str, _Reader] = {}
    head_cols: list[tuple[int, str, int]] = []
    for col, el in enumerate(elements):
        mod_name, _, attr = el.name.rpartition(".")
        if head is not None and mod_name == head_name:
            head_cols.append((col, attr, el.index))
            continue
        if mod_name not in readers:
            readers[mod_name] = _Reader(net.get_submodule(mod_name), [])
        readers[mod_name].elements.append((col, attr, el.index))

    p, B = len(elements), x.shape[0]
    # The readers write each sample's derivatives into the current pass's row buffer.
    buf: dict[str, torch.Tensor] = {}

    def fwd_hook(reader: _Reader):
        def hook(_m, args, out):
            reader.capture(args[0])
            out.register_hook(lambda g: reader.read(g, buf["row"]))

        return hook

    handles = [r.module.register_forward_hook(fwd_hook(r)) for r in readers.values()]

    def forward(xs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(swept output, logits, pooled features or None) of one pass."""
        xs.requires_grad_(True)
        if head is not None:
            feats = net.features(xs)
            return feats, head(feats), feats
        logits = net(xs)
        return logits, logits, None

    try:
        with ieee_float32(x.device):
            # The batch's own pass: logits, features and (sequential) the graph every sweep reuses.
            out, logits, feats = forward(x)
            if head is not None:
                W = head.weight
                # Sweep the cheaper side of logits = W @ feats.
                direct = W.shape[0] <= W.shape[1]
                cot = W if direct else torch.eye(W.shape[1], dtype=dtype, device=x.device)
            else:
                direct = True
                cot = torch.eye(logits.shape[1], dtype=dtype, device=x.device)
            K = cot.shape[0]
            if sweeps == "sequential":
                J = _sequential_sweeps(x, out, cot, buf, p, bool(readers))
            else:
                J = _batched_sweeps(x, cot, buf, p, bool(readers), forward, max(1, images_per_pass // B))
            assert J.shape == (B, K, p)
            if not direct:
                J = torch.einsum("ck,bkp->bcp", W, J)
            for col, attr, idx in head_cols:
                if attr == "bias":
                    J[:, idx, col] = 1.0
                else:
                    o, i = divmod(idx, head.in_features)
                    J[:, o, col] = feats.detach()[:, i]
    finally:
        for h in handles:
            h.remove()
    return J.detach(), logits.detach()


def _sequential_sweeps(x: torch.Tensor, out: torch.Tensor, cot: torch.Tensor, buf: dict, p: int,
                       any_reader: bool) -> torch.Tensor:
    """One reverse sweep per cotangent row over the retained graph of one forward: B x K x p."""
    B = x.shape[0]
    rows = []
    for k in range(cot.shape[0]):
        buf["row"] = torch.zeros(B, p, dtype=x.dtype, device=x.device)
        if any_reader:
            torch.autograd.grad(out, x, grad_outputs=cot[k].expand(B, -1).contiguous(), retain_graph=True)
        rows.append(buf["row"])
    return torch.stack(rows, dim=1)


def _batched_sweeps(x: torch.Tensor, cot: torch.Tensor, buf: dict, p: int, any_reader: bool,
                    forward, replicas: int) -> torch.Tensor:
    """The K sweeps as replicas of the batch, ``replicas`` per forward and reverse pass."""
    B, K = x.shape[0], cot.shape[0]
    chunks = []
    for k0 in range(0, K, replicas):
        r = min(replicas, K - k0)
        xs = x.repeat(r, *([1] * (x.dim() - 1)))  # replica j holds the whole batch
        if x.dim() == 4:
            xs = xs.contiguous(memory_format=torch.channels_last)
        buf["row"] = torch.zeros(r * B, p, dtype=x.dtype, device=x.device)
        if any_reader:
            out, _, _ = forward(xs)
            grad = cot[k0 : k0 + r].repeat_interleave(B, dim=0)  # replica j gets row k0 + j
            torch.autograd.grad(out, xs, grad_outputs=grad)
        chunks.append(buf["row"].reshape(r, B, p))
    return torch.cat(chunks, dim=0).transpose(0, 1)  # B x K x p


# ----------------------------------------------------------------------------- Fisher


def tanabe_sagae(prob: torch.Tensor) -> torch.Tensor:
    """Lower-triangular L (B x C x C) with L L^T = diag(prob) - prob prob^T.

    With q_k = sum_{j>k} prob_j (q_0 = 1, q_C = 0): L_kk = d_k = sqrt(prob_k q_k / q_{k-1})
    and L_ik = -prob_i d_k / q_k below the diagonal (the last column is zero).
    """
    C = prob.shape[-1]
    tail = prob.flip(-1).cumsum(-1).flip(-1)  # tail[k] = sum_{j>=k} prob_j
    q = torch.cat([tail[..., 1:], torch.zeros_like(tail[..., :1])], dim=-1)  # sum_{j>k}
    q_prev = torch.cat([torch.ones_like(q[..., :1]), q[..., :-1]], dim=-1)
    d = torch.sqrt(prob * q / q_prev)
    safe_q = torch.where(q > 0, q, torch.ones_like(q))
    coef = torch.where(q > 0, d / safe_q, torch.zeros_like(q))  # d_k / q_k, 0 for k = C
    L = -prob.unsqueeze(-1) * coef.unsqueeze(-2)
    L = torch.tril(L, diagonal=-1) + torch.diag_embed(d)
    assert L.shape[-1] == C
    return L


def smoothed_probs(logits: torch.Tensor, alpha: float = ALPHA) -> torch.Tensor:
    C = logits.shape[-1]
    return torch.softmax(logits, dim=-1) * (1 - alpha) + alpha / C


def fisher_from_jacobian(J: torch.Tensor, logits: torch.Tensor, fim: str = "reference") -> torch.Tensor:
    """F (p x p) from per-sample Jacobians J (B x C x p) and logits (B x C)."""
    L = tanabe_sagae(smoothed_probs(logits.to(J.dtype)))
    if fim == "reference":
        A = L @ J  # the authors' code: J^T L^T L J
    elif fim == "exact":
        A = L.transpose(-1, -2) @ J  # J^T L L^T J = J^T (diag(p) - p p^T) J
    else:
        raise ValueError(f"fim must be 'reference' or 'exact', got {fim!r}")
    return torch.einsum("bcp,bcq->pq", A, A) / J.shape[0]


def fisher(
    model: nn.Module,
    inputs: torch.Tensor,
    *,
    n_tensors: int = 128,
    position: float | str = 0.0,
    per_tensor: int = 1,
    fim: str = "reference",
    dtype: torch.dtype = torch.float64,
    generator: torch.Generator | None = None,
    sweeps: str = "auto",
    images_per_pass: int = BATCHED_IMAGES,
) -> torch.Tensor:
    """The empirical Fisher matrix (p x p) VKDNW is computed from, by the fast exact path
    (``sweeps``: see :func:`jacobian_fast`)."""
    elements = select_elements(model, n_tensors, position, per_tensor, generator)
    J, logits = jacobian_fast(model, inputs, elements, dtype, sweeps=sweeps, images_per_pass=images_per_pass)
    return fisher_from_jacobian(J, logits, fim)


def spectrum_deciles(F: torch.Tensor) -> torch.Tensor:
    """The 9 deciles of the singular values of F (may raise torch.linalg.LinAlgError)."""
    lam = torch.linalg.svdvals(F)
    if not torch.isfinite(lam).all():
        raise torch.linalg.LinAlgError("non-finite singular values")
    qs = torch.linspace(0.1, 0.9, N_DECILES, dtype=lam.dtype, device=lam.device)
    return torch.quantile(lam, qs)


def entropy(deciles: torch.Tensor) -> float:
    t = deciles / (deciles.abs().sum() + 1e-10)
    return float(-(t * torch.log(t + 1e-10)).sum())
