"""What produced a results tree: one record for the run manifest and the archive's manifest.

Both hold the same provenance block: when, the resolved config, the git commit and whether
code or config differed from it, library versions, the machine (with SLURM job ids where
known). Each adds what only it has (the manifest: job times and the inputs' checksums; the
archive: ``pip freeze`` and every archived file's checksum).
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = ("torch", "numpy", "scipy", "pandas", "pyarrow", "scikit-learn", "snakemake", "vkdnw")


def git(*args: str) -> str:
    """Output of a git command in the working directory, or "" outside a checkout."""
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def git_state(results: str | None = None) -> dict[str, Any]:
    """The commit, and whether tracked code or config differ from it. The results tree (whose
    files the run itself rewrites, the manifest among them) does not count."""
    exclude = ["--", ".", f":(exclude){results}"] if results else []
    return {"commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no", *exclude))}


def library_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for pkg in LIBRARIES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    try:  # the accelerator stack, where torch is importable
        import torch

        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        out.update(cuda=torch.version.cuda or None, cudnn=str(cudnn) if cudnn else None)
    except ImportError:
        out.update(cuda=None, cudnn=None)
    return out


def slurm_job_ids(workdir: str | Path = ".") -> list[str]:
    """Job ids from the environment and from the SLURM executor's log folder."""
    ids = {os.environ[k] for k in ("SLURM_JOB_ID",) if k in os.environ}
    logs = Path(workdir) / ".snakemake" / "slurm_logs"
    if logs.is_dir():
        ids |= {p.stem for p in logs.rglob("*.log") if p.stem.isdigit()}
    return sorted(ids, key=int)


def machine() -> dict[str, Any]:
    return {"hostname": socket.gethostname(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "slurm_job_ids": slurm_job_ids()}


def provenance(config: Any, results: str | None = None) -> dict[str, Any]:
    """The block both manifests start with."""
    return {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": config, "git": git_state(results),
            "versions": library_versions(), "machine": machine()}
