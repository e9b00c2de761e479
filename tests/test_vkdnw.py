"""The fast Fisher path against the authors' per-sample vmap(jacrev) algorithm."""

import math

import pandas as pd
import pytest
import torch
from torch import nn

from vkdnw.proxies.common import kaiming_init_
from vkdnw.proxies.registry import NetContext
from vkdnw.proxies.fisher import (
    entropy,
    fisher,
    fisher_from_jacobian,
    select_elements,
    smoothed_probs,
    spectrum_deciles,
    tanabe_sagae,
)
from vkdnw.proxies.vkdnw_reference import fisher_reference, jacobian_reference
from vkdnw.stages.scoring import score_net
from vkdnw.spaces import nb201, nb201_net

SMALL_ARCHS = [
    "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|skip_connect~2|",
    "|skip_connect~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|skip_connect~2|",
    "|avg_pool_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|avg_pool_3x3~0|skip_connect~1|avg_pool_3x3~2|",
]


def _net(arch: str, C: int, seed: int = 0) -> nn.Module:
    return kaiming_init_(nb201_net.build_network(arch, C), torch.Generator().manual_seed(seed))


# The GPU's batched sweeps, forced on the CPU: 7 images per pass are 2 replicas of the batch of
# 3, so the K sweeps run in several chunks, the last one short.
SWEEPS = [dict(sweeps="sequential"), dict(sweeps="batched", images_per_pass=7)]


@pytest.mark.parametrize("sweeps", SWEEPS, ids=["sequential", "batched"])
@pytest.mark.parametrize("C,R", [(10, 32), (100, 32), (120, 16)])
@pytest.mark.parametrize("arch", SMALL_ARCHS)
def test_fast_fisher_matches_reference(arch, C, R, sweeps):
    net = _net(arch, C)
    x = torch.randn(3, 3, R, R, generator=torch.Generator().manual_seed(1))
    fast = fisher(net, x, **sweeps)
    ref = fisher_reference(net, x)
    assert fast.shape == ref.shape == (min(128, nb201.aleph(arch)),) * 2
    rel = (fast - ref).abs().max() / ref.abs().max()
    assert rel < 1e-4
    assert abs(entropy(spectrum_deciles(fast)) - entropy(spectrum_deciles(ref))) < 1e-5


@pytest.mark.parametrize("C", [10, 100, 120])
def test_batched_sweeps_equal_the_sequential_ones(C):
    """The two schedules compute the same derivatives: equal to float64 rounding, for one
    replica per pass, several, and all of them in one pass."""
    net = _net(SMALL_ARCHS[1], C)
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    seq = fisher(net, x, sweeps="sequential")
    for per_pass in (4, 12, 4 * 64):
        bat = fisher(net, x, sweeps="batched", images_per_pass=per_pass)
        assert ((bat - seq).abs().max() / seq.abs().max()) < 1e-12
    with pytest.raises(ValueError, match="sweeps must be"):
        fisher(net, x, sweeps="parallel")


@pytest.mark.parametrize("kwargs", [dict(position=0.6), dict(per_tensor=3, n_tensors=20), dict(fim="exact")])
def test_fast_fisher_matches_reference_options(kwargs):
    net = _net(SMALL_ARCHS[1], 10)
    x = torch.randn(2, 3, 16, 16)
    fast, ref = fisher(net, x, **kwargs), fisher_reference(net, x, **kwargs)
    assert ((fast - ref).abs().max() / ref.abs().max()) < 1e-4


def test_reference_jacobian_on_linear_model():
    # logits = W x + b: d logit_c / d W[o, i] = delta_co x_i, d logit_c / d b[o] = delta_co.
    lin = nn.Linear(4, 3)
    x = torch.randn(5, 4)
    elements = select_elements(lin)  # W[0, 0] and b[0]
    J, _ = jacobian_reference(lin, x, elements)
    expected = torch.zeros(5, 3, 2, dtype=torch.float64)
    expected[:, 0, 0] = x[:, 0].double()
    expected[:, 0, 1] = 1.0
    torch.testing.assert_close(J, expected)


@pytest.mark.parametrize("C", [2, 10, 120])
def test_tanabe_sagae_factor(C):
    prob = smoothed_probs(torch.randn(4, C, dtype=torch.float64) * 5)
    L = tanabe_sagae(prob)
    cov = torch.diag_embed(prob) - prob.unsqueeze(-1) * prob.unsqueeze(-2)
    torch.testing.assert_close(L @ L.transpose(-1, -2), cov, atol=1e-13, rtol=0)
    assert torch.equal(L, torch.tril(L))


def test_reference_and_exact_forms_differ():
    J = torch.randn(4, 10, 6, dtype=torch.float64)
    logits = torch.randn(4, 10, dtype=torch.float64) * 3
    ref, exact = fisher_from_jacobian(J, logits, "reference"), fisher_from_jacobian(J, logits, "exact")
    L = tanabe_sagae(smoothed_probs(logits))
    cov = L @ L.transpose(-1, -2)
    torch.testing.assert_close(exact, torch.einsum("bcp,bcd,bdq->pq", J, cov, J) / 4)
    assert not torch.allclose(ref, exact)


def test_selection_policies():
    net = _net(SMALL_ARCHS[0], 10)
    names = [n for n, _ in net.named_parameters()]
    sel = select_elements(net, n_tensors=5)
    assert [e.name for e in sel] == names[:5] and all(e.index == 0 for e in sel)
    last = select_elements(net, n_tensors=1, position=1.0)
    assert last[0].index == net.stem[0].weight.numel() - 1
    assert len(select_elements(net, n_tensors=2, per_tensor=4)) == 8
    with pytest.raises(ValueError):
        select_elements(net, position=1.5)


def test_entropy_of_equal_deciles_is_log9():
    assert math.isclose(entropy(torch.ones(9, dtype=torch.float64)), math.log(9), rel_tol=1e-9)


def test_score_is_reproducible_and_failure_is_recorded(monkeypatch):
    ctx = NetContext(SMALL_ARCHS[0], "cifar10", 1, 10, 32, {"vkdnw": {"batch_size": 2}})
    a, b = score_net("vkdnw", ctx), score_net("vkdnw", ctx)
    assert a["vkdnw"] == b["vkdnw"] and a["error"] == ""
    assert a["aleph"] == nb201.aleph(SMALL_ARCHS[0])

    def broken_svd(F):
        raise torch.linalg.LinAlgError("svd did not converge")

    monkeypatch.setattr("vkdnw.proxies.vkdnw.spectrum_deciles", broken_svd)
    row = score_net("vkdnw", ctx)
    assert math.isnan(row["vkdnw"]) and "svd did not converge" in row["error"]


def test_bench_command_runs(capsys):
    from vkdnw.cli import main

    assert main(["bench", "fisher", "--dataset", "ImageNet16-120", "--n-archs", "1", "--batch-size", "2", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "geomean_ratio" in out and "ImageNet16-120" in out


def test_roofline_counts_the_fast_paths_sweeps(tmp_path):
    """`vkdnw bench roofline`: min(C, 64) sweeps (10 on CIFAR-10, 64 on ImageNet16-120), each
    timed, and the fast path's time relative to that floor."""
    from vkdnw.tools.bench import run_roofline

    out = tmp_path / "roofline.csv"
    summary = run_roofline(datasets=["cifar10", "ImageNet16-120"], n_archs=1, seed=0, batch_size=2,
                           threads=1, out=str(out))
    df = pd.read_csv(out)
    assert df.set_index("dataset")["sweeps"].to_dict() == {"cifar10": 10, "ImageNet16-120": 64}
    assert (df["sweep_s"] > 0).all() and (df["floor_s"] == df["sweeps"] * df["sweep_s"]).all()
    assert list(summary.index) == ["cifar10", "ImageNet16-120"]
