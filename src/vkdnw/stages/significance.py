"""Is a ranking better than chance, and is one ranking better than another?

* Permutation test (the paper's Sec. 3 footnote): the metric of the ranking against the
  metric of ``n_perm`` uniformly random rankings of the same nets;
  ``p = (1 + #{random >= observed}) / (1 + n_perm)``.
* Paired bootstrap: nets are resampled with replacement ``n_boot`` times; the percentile
  interval of ``metric(A) - metric(B)`` on the same resampled nets. An interval that excludes
  0 says the difference is not an accident of which nets the benchmark holds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vkdnw.io import read_parquet, write_parquet
from vkdnw.stages.metrics import collections, evaluate, with_accuracy
from vkdnw.stages.ranking import rerank_aggregates

METRICS = ("kt", "spr", "ndcg")
# Pairs the paper argues about: our aggregate against AZ-NAS, our single rank against size.
PAIRS = (("VKDNW_agg", "AZ-NAS"), ("VKDNW_single", "aleph"), ("VKDNW_single", "FLOPs"), ("VKDNW_agg", "VKDNW_single"))


def permutation_pvalues(rank: np.ndarray, acc: np.ndarray, *, seed: int, n_perm: int = 1000,
                        ndcg_k: int = 1000) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    observed = evaluate(rank, acc, seed=seed, ndcg_k=ndcg_k)
    hits = dict.fromkeys(METRICS, 0)
    for _ in range(n_perm):
        m = evaluate(rng.permutation(len(rank)).astype(float), acc, seed=seed, ndcg_k=ndcg_k)
        for k in METRICS:
            hits[k] += m[k] >= observed[k]
    return {f"p_{k}": (1 + hits[k]) / (1 + n_perm) for k in METRICS}


def paired_bootstrap(rank_a: np.ndarray, rank_b: np.ndarray, acc: np.ndarray, *, seed: int, n_boot: int = 1000,
                     ndcg_k: int = 1000, level: float = 0.95) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    n = len(acc)
    diffs = {k: [] for k in METRICS}
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        a = evaluate(rank_a[idx], acc[idx], seed=seed, ndcg_k=ndcg_k)
        b = evaluate(rank_b[idx], acc[idx], seed=seed, ndcg_k=ndcg_k)
        for k in METRICS:
            diffs[k].append(a[k] - b[k])
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    out = {}
    for k in METRICS:
        d = np.asarray(diffs[k])
        out[f"{k}_diff"] = float(np.mean(d))
        out[f"{k}_lo"], out[f"{k}_hi"] = (float(x) for x in np.quantile(d, [lo, hi]))
    return out


def run_significance(ranks_path: str | Path, benchmark_path: str | Path, out: str | Path, *, dataset: str,
                     seed: int, n_perm: int, n_boot: int, ndcg_k: int, methods: list[str] | None = None) -> pd.DataFrame:
    """Permutation p-values of every method, and bootstrap intervals of :data:`PAIRS`, on the
    run's unique nets (Table 1's collection)."""
    ranks = read_parquet(ranks_path, ("arch_str", "is_unique"), remake=True)
    df, acc_col = with_accuracy(ranks, benchmark_path, dataset)
    df = rerank_aggregates(collections(df)["unique"])
    acc = df[acc_col].to_numpy()
    skip = {"arch_str", "index", "is_unique", acc_col}
    methods = methods or [c for c in df.columns if c not in skip]
    rows = []
    for m in methods:
        rows.append({"kind": "vs_random", "method": m, "versus": "random", "dataset": dataset, "seed": seed,
                     "n_nets": len(df), "n_resamples": n_perm,
                     **evaluate(df[m].to_numpy(), acc, seed=seed, ndcg_k=ndcg_k),
                     **permutation_pvalues(df[m].to_numpy(), acc, seed=seed, n_perm=n_perm, ndcg_k=ndcg_k)})
    for a, b in PAIRS:
        if a in df.columns and b in df.columns:
            rows.append({"kind": "paired_bootstrap", "method": a, "versus": b, "dataset": dataset, "seed": seed,
                         "n_nets": len(df), "n_resamples": n_boot,
                         **paired_bootstrap(df[a].to_numpy(), df[b].to_numpy(), acc, seed=seed, n_boot=n_boot,
                                            ndcg_k=ndcg_k)})
    result = pd.DataFrame(rows)
    write_parquet(result, out)
    return result
