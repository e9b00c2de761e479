"""Glue the Snakemake rules call: config, arch table, merge of score blocks, provenance manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import yaml

from vkdnw.benchmark import BENCHMARK_SHA256, BENCHMARK_SOURCE
from vkdnw.provenance import provenance
from vkdnw.io import corrupt_copy, parquet_metadata, read_parquet, sha256_file, write_parquet, write_text
from vkdnw.plan import ROW_SETTINGS, recorded_settings, select_archs, surrogate_read
from vkdnw.scoring import META_COLUMNS
from vkdnw.spaces import nb201

def ensure_surrogate(cfg: dict[str, Any], settings: dict[str, Any], dataset: str) -> Path | None:
    """Write the surrogate folder these proxy settings read where it is missing (it is not
    committed, and it is a pure function of the config), so that a committed surrogate-input
    score can be rescored outside the workflow."""
    folder = surrogate_read(cfg, settings, dataset)
    if folder is None or Path(folder).is_dir():
        return None
    from vkdnw.data import write_surrogate_set

    s = cfg["surrogate_data"]
    return write_surrogate_set(dataset, folder, n_images=s["n_images"], seed=s["seed"])


def write_archs(out: str | Path) -> pd.DataFrame:
    archs = nb201.all_archs()
    df = pd.DataFrame(
        {
            "index": range(len(archs)),
            "arch_str": archs,
            "is_unique": [nb201.is_unique(a) for a in archs],
            "aleph": [nb201.aleph(a) for a in archs],
        }
    )
    write_parquet(df, out)
    return df


def with_recorded_settings(df: pd.DataFrame, proxy: str, settings: dict[str, Any] | None) -> pd.DataFrame:
    """A group's rows with the batch size and precision they were scored at. Blocks record
    them; blocks scored before rows did get them from ``settings`` (the run's settings of the
    group: a block the workflow merges is up to date with them). Where both exist they must
    agree: a block scored at other settings is an error, not a mislabelled row."""
    if settings is None:
        return df
    want = recorded_settings(proxy, {proxy: settings})
    for key, value in want.items():
        if key not in df.columns:
            df = df.assign(**{key: value})
        elif not (df[key] == value).all():
            raise ValueError(f"proxy {proxy}: blocks scored at {key} {sorted(set(df[key]))}, the run's settings "
                             f"say {value}; rescore them (delete the blocks) or fix the config")
    return df


def merge_blocks(
    blocks: list[tuple[str, str]],
    out: str | Path,
    *,
    expected: bool = False,
    subset: str = "all",
    n_archs: int | None = None,
    sample_seed: int = 0,
    settings: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Join all proxies' score blocks of one run into one row per arch.

    ``blocks`` are (proxy group, block file) pairs. Per-proxy metadata become ``seconds_<proxy>``, ``error_<proxy>``, ``input_<proxy>`` and the
    settings each row was scored at, ``batch_size_<proxy>`` and ``dtype_<proxy>``
    (``settings``, the run's job settings by group, checks them and fills in those of blocks
    scored before rows recorded them: :func:`with_recorded_settings`). A corrupt block, an
    arch scored twice, disagreeing shared columns or (with ``expected``) a missing arch is an
    error: nothing is merged silently. A corrupt block is also renamed to ``*.corrupt`` so
    that rerunning the workflow recomputes it.
    """
    per_proxy: dict[str, list[pd.DataFrame]] = {}
    corrupt: list[str] = []
    for proxy, s in blocks:
        path = Path(s)
        try:
            per_proxy.setdefault(proxy, []).append(read_parquet(path, META_COLUMNS, remake=True))
        except ValueError as exc:
            # Readable but malformed (missing columns): moved aside too, so that it is rescored.
            if path.exists():
                path.replace(corrupt_copy(path))
            corrupt.append(f"{path} ({exc})")
    if corrupt:
        raise ValueError(f"{len(corrupt)} corrupt block(s) moved aside as *.corrupt; rerun snakemake to "
                         f"rescore them: " + "; ".join(corrupt))
    merged: pd.DataFrame | None = None
    for proxy in sorted(per_proxy):
        df = pd.concat(per_proxy[proxy], ignore_index=True)
        dup = df["arch_str"][df["arch_str"].duplicated()]
        if len(dup):
            raise ValueError(f"proxy {proxy}: arch scored twice across blocks, e.g. {dup.iloc[0]}")
        df = with_recorded_settings(df, proxy, (settings or {}).get(proxy))
        df = df.rename(columns={"seconds": f"seconds_{proxy}", "error": f"error_{proxy}", "input": f"input_{proxy}",
                                **{k: f"{k}_{proxy}" for k in ROW_SETTINGS}})
        df = df.drop(columns=["device", "torch_version"]).assign(**{
            f"device_{proxy}": df["device"], f"torch_version_{proxy}": df["torch_version"]})
        if merged is None:
            merged = df
            continue
        shared = [c for c in df.columns if c in merged.columns and c != "arch_str"]
        joined = merged.merge(df, on="arch_str", how="outer", suffixes=("", "__new"), validate="1:1")
        for c in shared:
            a, b = joined[c], joined[f"{c}__new"]
            both = a.notna() & b.notna()
            if not (a[both] == b[both]).all():
                raise ValueError(f"column {c!r} disagrees between proxies")
            joined[c] = a.fillna(b)
            joined = joined.drop(columns=f"{c}__new")
        merged = joined
    if merged is None:
        raise ValueError("no blocks to merge")
    if expected:
        want = set(select_archs(subset, n_archs, sample_seed))
        have = set(merged["arch_str"])
        if want != have:
            raise ValueError(f"merged archs differ from the selection: {len(want - have)} missing, "
                             f"{len(have - want)} unexpected")
    merged["index"] = merged["index"].astype("int64")
    merged["is_unique"] = merged["arch_str"].map(nb201.is_unique)
    merged = merged.sort_values("index").reset_index(drop=True)
    write_parquet(merged, out)
    return merged


# ----------------------------------------------------------------------------- provenance


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

