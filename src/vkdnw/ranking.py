"""Rankings of the scored nets by each method.

A rank column holds ``scipy.stats.rankdata`` ranks, ascending, so the best net gets rank n
(the convention the log-product aggregation relies on). A net whose score failed (NaN)
ranks below every scored net.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from vkdnw.io import read_parquet, write_parquet


def _nan_last(x: pd.Series) -> np.ndarray:
    v = x.to_numpy(dtype=float)
    return np.where(np.isnan(v), -np.inf, v)


def lexicographic(*keys: pd.Series) -> np.ndarray:
    """Dense ordinal of the tuple (keys[0], keys[1], ...), higher is better."""
    arrays = [_nan_last(k) for k in keys]
    order = np.lexsort(arrays[::-1])  # lexsort's last key is the primary one
    sorted_keys = np.stack([a[order] for a in arrays], axis=1)
    new = np.r_[True, (np.diff(sorted_keys, axis=0) != 0).any(axis=1)]
    dense = np.empty(len(order), dtype=float)
    dense[order] = np.cumsum(new)
    return dense


# method name -> (required score columns, function giving a "higher is better" key)
METHODS: dict[str, tuple[tuple[str, ...], Callable[[pd.DataFrame], np.ndarray]]] = {
    "FLOPs": (("flops",), lambda d: _nan_last(d["flops"])),
    "params": (("params",), lambda d: _nan_last(d["params"])),
    "aleph": (("aleph",), lambda d: _nan_last(d["aleph"])),
    "VKDNW": (("vkdnw",), lambda d: _nan_last(d["vkdnw"])),
    # Eq. (12): group by aleph, then order by VKDNW within the group.
    "VKDNW_single": (("aleph", "vkdnw"), lambda d: lexicographic(d["aleph"], d["vkdnw"])),
}


def rank_methods(scores: pd.DataFrame) -> pd.DataFrame:
    out = scores[["arch_str", "index", "is_unique"]].copy()
    for name, (cols, key) in METHODS.items():
        if all(c in scores.columns for c in cols):
            out[name] = rankdata(key(scores), method="average")
    return out


def write_ranks(scores_path: str | Path, out: str | Path) -> pd.DataFrame:
    scores = read_parquet(scores_path, ("arch_str", "index", "is_unique"))
    ranks = rank_methods(scores)
    write_parquet(ranks, out)
    return ranks
