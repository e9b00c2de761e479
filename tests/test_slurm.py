"""`snakemake --profile slurm all` against a real single-node SLURM (tests/slurm/bringup.sh).

.ci/run starts SLURM when it runs as root with apt; elsewhere these tests skip.
"""

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO
from vkdnw.plan import select_archs

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
TIMEOUT = 900


def _slurm_ready() -> str | None:
    if shutil.which("sinfo") is None:
        return "sinfo not found: start SLURM with tests/slurm/bringup.sh (root + apt)"
    try:
        state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed: {exc}"
    if "idle" not in state and "mix" not in state and "alloc" not in state:
        return f"no SLURM node up (sinfo says {state.strip()!r})"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm is not installed"
    return None


@pytest.fixture(scope="module")
def slurm():
    reason = _slurm_ready()
    if reason:
        pytest.skip(reason)


def _workdir(tmp: Path, drop_archs: int = 0) -> Path:
    cfg = yaml.safe_load((REPO / "config/tiny.yaml").read_text())
    # Lean: the two proxy groups of the slice, forests on 2 of the 4 nets, no permutation tests.
    cfg.update(results="results", n_archs=4, seeds=[1], datasets=["ImageNet16-120"], proxies=["size", "vkdnw"],
               model_driven={"n_train": 2}, significance={"enabled": False})
    archs = select_archs(cfg["subset"], cfg["n_archs"], cfg["sample_seed"])
    bench = tmp / "bench.csv"
    # Synthetic accuracies: this test checks the plumbing, not the paper's numbers.
    kept = archs[drop_archs:]
    rng = np.random.default_rng(0)
    pd.DataFrame({"arch_str": kept, "test_acc_ImageNet16-120": rng.uniform(10, 50, len(kept))}).to_csv(bench)
    cfg["benchmark"] = str(bench)
    (tmp / "config.yaml").write_text(yaml.safe_dump(cfg))
    return tmp


def _profile_run(work: Path) -> subprocess.CompletedProcess:
    cmd = ["timeout", "-k", "10", str(TIMEOUT - 30), "snakemake", "all", "--profile", str(REPO / "slurm"),
           "--snakefile", str(REPO / "Snakefile"), "--directory", str(work), "--configfile", str(work / "config.yaml"),
           "--slurm-init-seconds-before-status-checks", "5"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    print(proc.stdout[-4000:], proc.stderr[-4000:])
    return proc


def _job_ids(text: str) -> list[str]:
    return re.findall(r"submitted with SLURM jobid (\d+)", text)


def test_profile_runs_all_on_slurm(slurm, tmp_path):
    work = _workdir(tmp_path)
    proc = _profile_run(work)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    ids = _job_ids(out)
    assert len(ids) >= 4, out[-3000:]
    assert (work / "results/nb201/tables/table1.csv").exists()
    assert len(pd.read_parquet(work / "results/nb201/ImageNet16-120/seed1/scores.parquet")) == 4
    # The scoring group (both proxies. blocks in one allocation) asked for the GPU.
    tres = subprocess.run(["sacct", "-X", "-n", "-P", "-j", ",".join(ids), "-o", "JobID,ReqTRES"],
                          capture_output=True, text=True, timeout=60).stdout
    print(tres)
    gpu_jobs = [ln for ln in tres.splitlines() if "gres/gpu=1" in ln]
    assert len(gpu_jobs) == 1, tres
    assert "Group job scoring" in out


def test_failed_job_is_reported(slurm, tmp_path):
    # A valid benchmark that lacks a scored net: evaluation fails inside its SLURM job.
    work = _workdir(tmp_path, drop_archs=1)
    proc = _profile_run(work)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert _job_ids(out)
    assert "SLURM status is: 'FAILED'" in out and "evaluate_run" in out
    log = work / "results/nb201/ImageNet16-120/seed1/logs/evaluate_run.log"
    assert "have no ImageNet16-120 accuracy" in log.read_text()
    assert not (work / "results/nb201/ImageNet16-120/seed1/metrics.parquet").exists()
