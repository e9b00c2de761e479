"""Zero-cost scores of one MobileNetV2 candidate, as the evolutionary search needs them.

Every candidate gets, from one Kaiming-initialised net and one noise batch:

* ``complexity``: FLOPs at the budget resolution, counted as the reference counts them;
* ``expressivity``, ``progressivity``, ``trainability``: AZ-NAS over the output of every unit
  (the reference's ``extract_layer_features``), train-mode BN, on a copy of the net;
* ``vkdnw``: the MBV2 reference's VKDNW, ``aleph + entropy``. As in ``ImageNet_MBV2``'s
  ``compute_vkdnw_score``: 128 parameter tensors drawn with ``random.Random(n_tensors)``
  (the reference's seed is the tensor count), element 0 of each, eval-mode BN on the fresh
  net, and 10 quantiles of the Fisher spectrum at 0, 0.1, ..., 0.9 (NB201 uses 9 deciles).
  A net with fewer than 128 tensors uses all of them (the reference's ``sample`` would raise).

The random state depends on (seed, structure) only, so any candidate rescores alone to the
same numbers, and a resumed search scores exactly what an uninterrupted one would.
"""

from __future__ import annotations

import copy
import math
import os
import random
import time
from dataclasses import dataclass

import torch
from torch.func import functional_call, jvp, vmap

from vkdnw.proxies.aznas import aznas_from_features
from vkdnw.proxies.common import kaiming_init_
from vkdnw.proxies.fisher import Element, entropy, fisher_from_jacobian, jacobian_fast
from vkdnw.rng import generator
from vkdnw.spaces import mbv2

SPACE = "mbv2"
COMPONENTS = ("complexity", "expressivity", "progressivity", "vkdnw", "trainability")
N_QUANTILES = 10
QUANTILE_COLUMNS = tuple(f"vkdnw_lambda_q{k}" for k in range(N_QUANTILES))


@dataclass(frozen=True)
class ScoreSettings:
    resolution: int = 224
    batch_size: int = 64
    num_classes: int = 1000
    n_tensors: int = 128
    budget_resolution: int = 224
    device: str = "cpu"
    # "forward": one forward-mode pass per selected scalar (128); "reverse": one reverse
    # sweep per class (1000 on ImageNet); "auto" picks the one with fewer passes.
    jacobian: str = "auto"
    # Tangent directions per vmapped forward-mode pass; 0 sizes it to the device's memory
    # (16 at 224 px and batch 64 would need ~25 GB on activations alone).
    jvp_chunk: int = 0
    # float64 as everywhere else (docs/design.md, "Numerical precision"); float32 is the authors'
    # precision and ~2x cheaper on GPUs, at the cost of the low quantiles' stability.
    dtype: str = "float64"


def sample_tensors(model: torch.nn.Module, n_tensors: int) -> list[str]:
    names = [n for n, _ in model.named_parameters()]
    return random.Random(len(names)).sample(names, min(n_tensors, len(names)))


def fresh_net(structure: str, seed: int, s: ScoreSettings) -> mbv2.MBV2Net:
    net = mbv2.build_network(structure, s.num_classes)
    kaiming_init_(net, generator(seed, SPACE, structure, "init"))
    return net.to(s.device)


def noise(structure: str, seed: int, s: ScoreSettings) -> torch.Tensor:
    g = generator(seed, SPACE, structure, "input")
    return torch.randn(s.batch_size, 3, s.resolution, s.resolution, generator=g).to(s.device)


def aznas_components(net: mbv2.MBV2Net, x: torch.Tensor, g: torch.Generator) -> dict[str, float]:
    return aznas_from_features(net.train().layer_outputs(x), g)


def _splicer(params: dict[str, torch.Tensor], elements: list[Element], device: torch.device):
    """(sel0, splice): the selected scalars, and a function that writes a vector of them back
    into a copy of ``params`` (differentiably, so forward mode can push tangents through)."""
    by_name: dict[str, tuple[list[int], list[int]]] = {}
    for col, e in enumerate(elements):
        cols, idx = by_name.setdefault(e.name, ([], []))
        cols.append(col)
        idx.append(e.index)
    index = {n: (torch.tensor(c, device=device), torch.tensor(i, device=device)) for n, (c, i) in by_name.items()}
    sel0 = torch.stack([params[e.name].reshape(-1)[e.index] for e in elements])

    def splice(sel: torch.Tensor) -> dict[str, torch.Tensor]:
        full = dict(params)
        for n, (cols, idx) in index.items():
            full[n] = params[n].reshape(-1).index_put((idx,), sel[cols]).reshape(params[n].shape)
        return full

    return sel0, splice


def _columns(fn, sel0: torch.Tensor, chunk: int) -> torch.Tensor:
    """d fn / d sel (B x C x k) by forward mode, ``chunk`` one-hot tangents per vmapped pass."""
    eye = torch.eye(len(sel0), dtype=sel0.dtype, device=sel0.device)

    def directional(t: torch.Tensor) -> torch.Tensor:
        return jvp(fn, (sel0,), (t,))[1]

    cols = [vmap(directional)(eye[i:i + chunk]) for i in range(0, len(sel0), chunk)]  # k x B x C
    return torch.cat(cols, dim=0).permute(1, 2, 0)


def jacobian_forward(model: torch.nn.Module, inputs: torch.Tensor, elements: list[Element],
                     dtype: torch.dtype = torch.float64, chunk: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample Jacobians (B x C x p) of the logits w.r.t. ``elements`` by forward mode.

    The same J as :func:`vkdnw.proxies.fisher.jacobian_fast` (eval-mode BN, float64), at the
    cost of p forward-mode passes instead of C reverse sweeps: with C = 1000 ImageNet classes
    and p = 128 scalars that is ~8x fewer passes. For an MBV2Net, a weight's tangent starts at its own layer, from that
    layer's cached input, so the layers before it are not rerun; classifier weights are read
    off the pooled features. Tangents are batched ``chunk`` at a time with ``vmap``.
    """
    net = copy.deepcopy(model).to(dtype).eval()
    net.requires_grad_(False)
    x = inputs.detach().to(dtype)
    params = {k: v.detach() for k, v in net.named_parameters()}
    buffers = {k: v.detach() for k, v in net.named_buffers()}
    if not isinstance(net, mbv2.MBV2Net):
        sel0, splice = _splicer(params, elements, x.device)
        J = _columns(lambda sel: functional_call(net, (splice(sel), buffers), (x,)), sel0, chunk)
        with torch.no_grad():
            logits = net(x)
        return J.contiguous(), logits

    layers, head = net.layers, net.classifier
    with torch.no_grad():
        acts = [x]
        for m in layers:
            acts.append(m(acts[-1]))
        feats = net.pool(acts[-1])
        logits = head(feats)
    J = torch.zeros(x.shape[0], logits.shape[1], len(elements), dtype=dtype, device=x.device)
    groups: dict[int, list[int]] = {}
    for col, e in enumerate(elements):
        if e.name.startswith("classifier."):
            if e.name.endswith("bias"):
                J[:, e.index, col] = 1.0
            else:
                o, i = divmod(e.index, head.in_features)
                J[:, o, col] = feats[:, i]
            continue
        groups.setdefault(int(e.name.split(".")[1]), []).append(col)
    for li, cols in groups.items():
        prefix = f"layers.{li}."
        own = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
        own_buffers = {k[len(prefix):]: v for k, v in buffers.items() if k.startswith(prefix)}
        sel0, splice = _splicer(own, [Element(elements[c].name[len(prefix):], elements[c].index) for c in cols],
                                x.device)

        def tail(sel: torch.Tensor, li: int = li, splice=splice, own_buffers=own_buffers) -> torch.Tensor:
            h = functional_call(layers[li], (splice(sel), own_buffers), (acts[li],))
            for m in layers[li + 1:]:
                h = m(h)
            return head(net.pool(h))

        J[:, :, cols] = _columns(tail, sel0, chunk)
    return J, logits


def _memory_budget(device: torch.device) -> float:
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return 0.5 * free
    try:
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        avail = 8e9
    return 0.25 * avail


def auto_chunk(net: torch.nn.Module, x: torch.Tensor, itemsize: int = 8, live_copies: int = 8) -> int:
    """Tangent directions per vmapped pass that fit the memory budget: the largest activation
    of one sample (measured with hooks), times the batch, times primal + tangent copies that
    are alive at once (``live_copies``, measured on CPU as ~8), per direction."""
    peak = [0]
    hooks = [m.register_forward_hook(lambda _m, _i, out: peak.__setitem__(0, max(peak[0], out.numel())))
             for m in net.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            net.eval()(x[:1])
    finally:
        for h in hooks:
            h.remove()
    per_direction = peak[0] * x.shape[0] * itemsize * live_copies
    return int(max(1, min(16, _memory_budget(x.device) // max(per_direction, 1))))


def vkdnw_components(net: mbv2.MBV2Net, x: torch.Tensor, n_tensors: int, jacobian: str = "auto",
                     jvp_chunk: int = 0, dtype: str = "float64") -> dict[str, float]:
    elements = [Element(name, 0) for name in sample_tensors(net, n_tensors)]
    dt = {"float64": torch.float64, "float32": torch.float32}[dtype]
    if jacobian == "auto":
        jacobian = "forward" if len(elements) < net.classifier.out_features else "reverse"
    if jacobian == "forward":
        chunk = jvp_chunk or auto_chunk(net, x, torch.finfo(dt).bits // 8)
        J, logits = jacobian_forward(net, x, elements, dtype=dt, chunk=chunk)
    elif jacobian == "reverse":
        J, logits = jacobian_fast(net, x, elements, dtype=dt)
    else:
        raise ValueError(f"jacobian must be auto, forward or reverse, got {jacobian!r}")
    F = fisher_from_jacobian(J.double(), logits.double())
    lam = torch.linalg.svdvals(F)
    if not torch.isfinite(lam).all():
        raise torch.linalg.LinAlgError("non-finite singular values")
    q = torch.quantile(lam, torch.arange(0.0, 1.0, 0.1, dtype=lam.dtype, device=lam.device))
    ent = entropy(q)
    aleph = len(list(net.named_parameters()))
    row = {"aleph": float(aleph), "vkdnw_entropy": ent, "vkdnw": aleph + ent}
    row.update({c: float(v) for c, v in zip(QUANTILE_COLUMNS, q)})
    return row


def score_structure(structure: str, seed: int, s: ScoreSettings) -> dict[str, float | str]:
    """All search columns of one candidate. A numerical failure in a component is recorded
    in ``error`` with -inf scores (the candidate then ranks last), never raised."""
    t0 = time.perf_counter()
    struct = mbv2.parse(structure)
    row: dict[str, float | str] = {
        "structure": structure,
        "complexity": mbv2.flops_reference(struct, s.budget_resolution, 1000),
        "layers": float(mbv2.num_layers(struct)),
        "error": "",
    }
    net = fresh_net(structure, seed, s)
    row["params"] = float(sum(p.numel() for p in net.parameters()))
    x = noise(structure, seed, s)
    try:
        row.update(aznas_components(copy.deepcopy(net), x, generator(seed, SPACE, structure, "rademacher")))
        # VKDNW sees the fresh net: the AZ-NAS forward in train mode moved the copy's BN stats.
        row.update(vkdnw_components(net, x, s.n_tensors, s.jacobian, s.jvp_chunk, s.dtype))
    except torch.OutOfMemoryError:
        raise  # a setting the device cannot hold, not a property of this candidate
    except (torch.linalg.LinAlgError, FloatingPointError, RuntimeError) as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
        for c in COMPONENTS:
            if c != "complexity":
                row.setdefault(c, -math.inf)
    row["seconds"] = time.perf_counter() - t0
    return row
