"""Rescoring committed nets: does a run's committed score come out again from the CLI?

``vkdnw rescore --config C --sample N`` draws N nets with finite committed values from the
run's merged ``scores.parquet``, rescores them with the config's settings and prints, per
net, the new values beside the committed ones and their relative difference.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vkdnw import layout
from vkdnw.proxies.registry import get_proxy


def scores_path(cfg: dict[str, Any], dataset: str, seed: int) -> Path:
    """Where a config's run keeps the merged scores of one dataset and seed."""
    return Path(layout.scores(layout.run(cfg["results"], dataset, seed)))


def committed_scores(cfg: dict[str, Any], dataset: str, seed: int) -> pd.DataFrame:
    path = scores_path(cfg, dataset, seed)
    if not path.is_file():
        raise FileNotFoundError(f"no committed scores at {path}: run the workflow with this config first")
    return pd.read_parquet(path)


def value_columns(proxy: str) -> list[str]:
    return [c for c in get_proxy(proxy).columns if c != "input"]


def sample_committed(scores: pd.DataFrame, proxy: str, n: int, sample_seed: int) -> pd.DataFrame:
    """``n`` random nets whose committed values of ``proxy`` are all finite."""
    cols = value_columns(proxy)
    missing = [c for c in cols if c not in scores]
    if missing:
        raise ValueError(f"the committed scores have no {missing} columns: {proxy} was not scored in this run")
    ok = scores[np.isfinite(scores[cols].to_numpy(dtype=float)).all(axis=1)]
    rng = np.random.default_rng(sample_seed)
    return ok.iloc[np.sort(rng.choice(len(ok), size=min(n, len(ok)), replace=False))]


def compare(row: dict[str, Any], committed: pd.Series, proxy: str) -> dict[str, Any]:
    """The rescored row with ``committed_<col>`` and ``rel_diff_<col>`` added per value column."""
    out = dict(row)
    for c in value_columns(proxy):
        want, got = float(committed[c]), float(row[c])
        out[f"committed_{c}"] = want
        out[f"rel_diff_{c}"] = 0.0 if got == want else abs(got - want) / max(abs(want), 1e-300)
    return out


def max_rel_diff(rows: list[dict[str, Any]]) -> float:
    diffs = [v for r in rows for k, v in r.items() if k.startswith("rel_diff_")]
    return max(diffs) if diffs else math.nan
