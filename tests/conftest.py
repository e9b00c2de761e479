import math
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARK_ENV = "VKDNW_NB201_BENCHMARK"
# The preset configs a user merges over config.yaml (paths relative to the repo).
PRESET_CONFIGS = sorted(f"config/{p.name}" for p in (REPO / "config").glob("*.yaml"))


def value_atol(column: str, row: Mapping) -> float:
    """The absolute tolerance of one score column of a row (a dict or a Series): VKDNW's
    float64 eigenvalues are exact only to about eps64 * lambda_max. On CIFAR-10 at batch 8
    (rank bound, results/reference/cifar10-batch/README.md) deciles 1-2 sit below that floor, 1e-19 of lambda_9."""
    if column.startswith("vkdnw_lambda_"):
        lams = [float(v) for k, v in row.items() if k.startswith("vkdnw_lambda_") and not math.isnan(float(v))]
        return 1e-12 * max(lams, default=0.0)
    return 1e-12


# Proxies whose float32 value amplifies rounding, so that a CPU with other float kernels
# (oneDNN picks its convolutions by ISA) moves them by more than 1e-4; only where a run scored
# them in float32 (their float64 path, their `dtype` setting, is held to 1e-4). Measured by
# rescoring committed nets on an AVX-512 Xeon, against scores made on an earlier machine:
# - ZiCo sums mean|g| / std(g) over two batches; where the two batches' gradients nearly
#   agree, std is a difference of close float32 numbers. 12 random CIFAR-10 nets moved by
#   1.6e-5 to 1.6e-3; capping oneDNN at AVX2 moved 3 of them by up to 1.2e-2. (A seed change
#   moves ZiCo by 0.1-1.2%, so across CPUs this check cannot tell seeds apart for ZiCo.)
# - GraSP sums -w * Hg with cancellation: 1 of 6 random nets (surrogate input, CIFAR-100)
#   moved by 2.1e-4, the others by at most 1e-6.
# Other float32 proxies (SNIP, ZenNAS, GradNorm) moved by at most 4e-8 there, Jacov and NASWOT
# not at all; CIFAR-100's ZiCo and ImageNet16-120's eight float32 groups rescored
# bit-identically on it.
CROSS_CPU_RTOL = {"zico": 2e-2, "grasp": 1e-3}


def pytest_collection_modifyitems(items):
    """A test that needs the tiny end-to-end run (about two minutes to build, then seconds to
    minutes each) is slow: `pytest -m "not slow"` leaves it out."""
    for item in items:
        if "tiny_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def benchmark_csv() -> Path:
    """The shared NB201 table, passed in by .ci/run; tests needing it skip without it."""
    path = os.environ.get(BENCHMARK_ENV)
    if not path or not Path(path).is_file():
        pytest.skip(f"{BENCHMARK_ENV} is not set to an existing NB201 benchmark table")
    return Path(path)
