import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARK_ENV = "VKDNW_NB201_BENCHMARK"
# The preset configs a user merges over config.yaml (paths relative to the repo).
PRESET_CONFIGS = sorted(f"config/{p.name}" for p in (REPO / "config").glob("*.yaml"))


@pytest.fixture(scope="session")
def benchmark_csv() -> Path:
    """The shared NB201 table, passed in by .ci/run; tests needing it skip without it."""
    path = os.environ.get(BENCHMARK_ENV)
    if not path or not Path(path).is_file():
        pytest.skip(f"{BENCHMARK_ENV} is not set to an existing NB201 benchmark table")
    return Path(path)
