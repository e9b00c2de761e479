"""The GPU path (``device: cuda``): every proxy group scores on CUDA what it scores on the CPU.

Skipped without CUDA (CI has none). On a GPU machine, ``pytest tests/test_gpu.py`` is the
check to run before scoring there. The init and the input are drawn on the CPU and moved,
so the two devices differ only in float rounding: float64 groups must agree to 1e-6, the
float32 ones to each group's rounding (measured across CPUs, results/reference/b8/README.md "Rescoring a committed
net"), which TF32 would exceed.
"""

import json
import math
import subprocess
import sys

import pandas as pd
import pytest
import torch

from conftest import CROSS_CPU_RTOL, value_atol
from vkdnw.proxies.common import fresh_net, random_input
from vkdnw.proxies.registry import NetContext, get_proxy, list_proxies
from vkdnw.proxies.fisher import entropy, fisher, spectrum_deciles
from vkdnw.proxies.vkdnw_reference import fisher_reference
from vkdnw.stages.scoring import score_net, scoring_device
from vkdnw.spaces.nb201 import dataset_info
from vkdnw.plan import zero_cost_entry

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

DENSE = "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"
SMALL = "|nor_conv_1x1~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"
# float32 groups whose scores cancel: the cross-CPU tolerance, TE-NAS's float32 condition
# number (exact to about eps32 * cond), and GradNorm, whose norm over every gradient moved by
# 1.05e-4 on an H200 (torch 2.11, CUDA 13; cuDNN's IEEE float32 convolutions sum in another
# order than oneDNN's) against the 1e-4 the other float32 groups hold there.
FLOAT32_RTOL = {**CROSS_CPU_RTOL, "tenas": 1e-3, "gradnorm": 5e-4}


def _settings(proxy: str, dtype: str = "float32") -> dict:
    if proxy in ("vkdnw", "vkdnw_real", "size"):
        return {}  # their defaults (VKDNW's float64 at batch 8); size has no settings
    return {proxy: zero_cost_entry(8, None, dtype)}


def _score(proxy: str, arch: str, dataset: str, device: str, dtype: str = "float32") -> dict:
    info = dataset_info(dataset)
    ctx = NetContext(arch, dataset, 1, info["num_classes"], info["resolution"], _settings(proxy, dtype),
                     scoring_device(device))
    return score_net(proxy, ctx)


def _assert_close(cpu: dict, gpu: dict, proxy: str, rtol: float) -> None:
    assert cpu["error"] == gpu["error"]
    for col in get_proxy(proxy).columns:
        if col == "input":
            assert cpu[col] == gpu[col]
        elif not (math.isnan(cpu[col]) and math.isnan(gpu[col])):
            assert math.isclose(gpu[col], cpu[col], rel_tol=rtol, abs_tol=value_atol(col, cpu)), \
                (proxy, col, cpu[col], gpu[col])


def _tf32_on() -> None:
    """PyTorch's default for cuDNN convolutions, so a test sees whether the code turns it off."""
    torch.backends.cudnn.conv.fp32_precision = "tf32"
    torch.backends.cuda.matmul.fp32_precision = "tf32"


def test_scoring_device_turns_tf32_off_on_cuda():
    _tf32_on()
    assert scoring_device("cuda").type == "cuda"
    assert torch.backends.cudnn.conv.fp32_precision == "ieee"
    assert torch.backends.cuda.matmul.fp32_precision == "ieee"


@pytest.mark.parametrize("dataset", ["ImageNet16-120", "cifar10"])
@pytest.mark.parametrize("proxy", list_proxies())
def test_every_proxy_scores_on_cuda_as_on_the_cpu(proxy, dataset):
    rtol = 1e-6 if proxy in ("vkdnw", "vkdnw_real", "size", "synflow") else FLOAT32_RTOL.get(proxy, 1e-4)
    for arch in (DENSE, SMALL):
        gpu = _score(proxy, arch, dataset, "cuda")
        assert gpu["device"].startswith("cuda")
        _assert_close(_score(proxy, arch, dataset, "cpu"), gpu, proxy, rtol)


@pytest.mark.parametrize("proxy", ["zico", "grasp"])
def test_float64_groups_agree_across_devices_to_1e_6(proxy):
    for arch in (DENSE, SMALL):
        _assert_close(_score(proxy, arch, "cifar10", "cpu", "float64"),
                      _score(proxy, arch, "cifar10", "cuda", "float64"), proxy, 1e-6)


def test_score_cli_writes_a_cuda_block(tmp_path):
    out = tmp_path / "block000.parquet"
    settings = json.dumps({"tenas": zero_cost_entry(8, None)})
    # `python -m vkdnw`: the GPU machine may run the package from src/ without installing it.
    subprocess.run([sys.executable, "-m", "vkdnw", "score", "--proxy", "tenas", "--dataset", "cifar10",
                    "--seed", "1", "--n-archs", "4", "--block-size", "4", "--settings", settings,
                    "--device", "cuda", "--quiet", "--out", str(out)], check=True)
    df = pd.read_parquet(out)
    assert len(df) == 4 and df["device"].str.startswith("cuda").all() and (df["error"] == "").all()


def test_mbv2_search_scores_on_cuda_in_ieee_float32_as_on_the_cpu(tmp_path):
    from dataclasses import replace

    from vkdnw.mbv2.evolution import SearchSettings, run_search
    from vkdnw.mbv2.score import COMPONENTS, ScoreSettings

    score = ScoreSettings(resolution=32, batch_size=16, num_classes=10, n_tensors=16, budget_resolution=32)
    s = SearchSettings(iterations=3, population=2, score=score)
    cpu = run_search(s, tmp_path / "cpu")
    _tf32_on()
    gpu = run_search(replace(s, score=replace(score, device="cuda")), tmp_path / "cuda")
    assert torch.backends.cudnn.conv.fp32_precision == "ieee"
    assert gpu["structure"].tolist() == cpu["structure"].tolist()
    for c in COMPONENTS:  # AZ-NAS in float32 (expressivity is -inf at 32 px on both), VKDNW in float64
        for a, b in zip(cpu[c], gpu[c]):
            assert math.isclose(b, a, rel_tol=1e-3, abs_tol=1e-9), (c, a, b)


def _net_and_input(arch: str, dataset: str, device: str, batch: int = 16):
    info = dataset_info(dataset)
    # torch.device, not scoring_device: the float32 test must see the process's TF32 setting.
    ctx = NetContext(arch, dataset, 1, info["num_classes"], info["resolution"], {}, torch.device(device))
    return fresh_net(ctx), random_input(ctx, batch)


@pytest.mark.parametrize("dataset", ["ImageNet16-120", "cifar10", "cifar100"])
def test_batched_fisher_on_cuda_is_the_authors(dataset):
    """CUDA runs the reverse sweeps as replicas of the batch (sweeps="auto"): F equals the
    authors' per-sample algorithm to 1e-4 and VKDNW to 1e-5."""
    for arch in (DENSE, SMALL):
        net, x = _net_and_input(arch, dataset, "cuda")
        fast = fisher(net, x).cpu()
        ref = fisher_reference(net.cpu(), x.cpu())
        assert ((fast - ref).abs().max() / ref.abs().max()) < 1e-4
        assert abs(entropy(spectrum_deciles(fast)) - entropy(spectrum_deciles(ref))) < 1e-5


def test_float32_fisher_on_cuda_is_not_rounded_to_tf32():
    """With PyTorch's TF32 default on, a float32 Fisher matrix on CUDA moved by 9-100% of its
    largest entry; fisher() computes in IEEE float32 whatever the process's setting. On the CPU
    float32 is within 1e-5 of float64 on these nets."""
    _tf32_on()
    for dataset in ("cifar10", "cifar100"):
        for arch in (DENSE, SMALL):
            net, x = _net_and_input(arch, dataset, "cuda")
            f32 = fisher(net, x, dtype=torch.float32).double().cpu()
            f64 = fisher(net, x).cpu()
            assert ((f32 - f64).abs().max() / f64.abs().max()) < 1e-3
    assert torch.backends.cudnn.conv.fp32_precision == "tf32"  # the process's setting is restored
