"""The provenance manifest of a results folder: what made it (:mod:`vkdnw.provenance`), what it
cost and the checksums of its inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import yaml

from vkdnw.io import parquet_metadata, sha256_file, write_text
from vkdnw.provenance import provenance
from vkdnw.stages.benchmark import BENCHMARK_SHA256, BENCHMARK_SOURCE


def _wall_seconds(benchmark_files: list[str]) -> float:
    total = 0.0
    for f in benchmark_files:
        try:
            total += float(pd.read_csv(f, sep="\t")["s"].sum())
        except (OSError, KeyError, ValueError, pd.errors.EmptyDataError):
            continue
    return total


def _scoring_seconds(runs: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """Per run (``runs``: name such as ``cifar10/seed1``, merged scores) and proxy group, the
    summed per-net ``seconds_<group>``. Unlike the job wall time (from the git-ignored
    benchmark files of the jobs this checkout ran) it covers every committed block, whichever
    machine scored it."""
    out: dict[str, dict[str, float]] = {}
    for run, p in runs:
        if not Path(p).is_file():
            continue
        cols = [c for c in pq.read_schema(p).names if c.startswith("seconds_")]
        sums = pd.read_parquet(p, columns=cols).sum()
        out[run] = {c.removeprefix("seconds_"): round(float(v), 1) for c, v in sums.items()}
    return out


def _benchmark_source(ingested: str | None) -> dict[str, str] | None:
    """The file the tables' ground truth came from, as its ingestion recorded it."""
    if not ingested or not Path(ingested).is_file():
        return None
    return {"path": parquet_metadata(ingested, BENCHMARK_SOURCE), "sha256": parquet_metadata(ingested, BENCHMARK_SHA256)}


def write_manifest(config: str, out: str | Path, inputs: list[str], wall_seconds_from: list[str],
                   runs: list[tuple[str, str]] = (), benchmark: str | None = None) -> dict:
    """Provenance (:mod:`vkdnw.provenance`), summed job wall time (of the jobs whose
    benchmark files this checkout has), summed scoring seconds per run and group (``runs``:
    run name and merged scores; of every committed block), the ingested ``benchmark``'s
    source and input checksums."""
    cfg = json.loads(config) if config.strip().startswith("{") else config
    manifest = {
        **provenance(cfg, cfg.get("results") if isinstance(cfg, dict) else None),
        "job_wall_seconds_total": _wall_seconds(wall_seconds_from),
        "scoring_seconds": _scoring_seconds(list(runs)),
        "benchmark": _benchmark_source(benchmark),
        "files": {str(p): sha256_file(p) for p in inputs if Path(p).is_file()},
    }
    write_text(yaml.safe_dump(manifest, sort_keys=False), out)
    return manifest
