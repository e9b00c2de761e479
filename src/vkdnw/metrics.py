"""Ranking metrics against the benchmark: Kendall tau-b, Spearman rho, nDCG@k, top-1.

nDCG@k orders nets by rank, descending, with gains ``2**acc - 1`` (acc in percent), as
``sklearn.metrics.ndcg_score`` computes it. Ties in the rank are broken at random with the
run's seed (the paper's footnote), and the same order picks the top-1 net.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr
from sklearn.metrics import ndcg_score

from vkdnw.io import read_parquet, write_parquet, write_text
from vkdnw.ranking import METHODS

TABLE_COLUMNS = ["method", "dataset", "kt", "kt_std", "spr", "spr_std", "ndcg", "ndcg_std", "top1", "top1_std",
                 "n_seeds", "n_nets", "input", "batch_size"]
METHOD_ORDER = list(METHODS)


def tie_broken_order(rank: np.ndarray, seed: int) -> np.ndarray:
    """Distinct scores (0..n-1, higher = better) that keep ``rank``'s order and break its
    ties uniformly at random."""
    rng = np.random.default_rng(seed)
    tiebreak = rng.permutation(len(rank))
    order = np.lexsort((tiebreak, rank))
    out = np.empty(len(rank), dtype=float)
    out[order] = np.arange(len(rank))
    return out


def evaluate(rank: np.ndarray, acc: np.ndarray, *, seed: int, ndcg_k: int = 1000) -> dict[str, float]:
    rank = np.asarray(rank, dtype=float)
    acc = np.asarray(acc, dtype=float)
    if len(rank) != len(acc) or len(rank) < 2:
        raise ValueError("need at least two nets with both a rank and an accuracy")
    ordinal = tie_broken_order(rank, seed)
    gains = 2.0 ** acc - 1.0
    with warnings.catch_warnings():
        # sklearn probes whether 2**acc (~1e28) is integer-valued by casting; harmless.
        warnings.simplefilter("ignore", RuntimeWarning)
        ndcg = float(ndcg_score(gains[None, :], ordinal[None, :], k=min(ndcg_k, len(rank))))
    return {
        "kt": float(kendalltau(rank, acc).statistic),  # tau-b
        "spr": float(spearmanr(rank, acc).statistic),
        "ndcg": ndcg,
        "top1": float(acc[np.argmax(ordinal)]),
    }


def run_metrics(
    ranks_path: str | Path,
    benchmark_path: str | Path,
    out: str | Path,
    *,
    dataset: str,
    seed: int,
    ndcg_k: int,
    batch_size: int,
    input_kind: str,
) -> pd.DataFrame:
    ranks = read_parquet(ranks_path, ("arch_str", "is_unique"))
    bench = read_parquet(benchmark_path, ("arch_str",))
    acc_col = f"acc_{dataset}"
    if acc_col not in bench.columns:
        raise ValueError(f"{benchmark_path}: no accuracy for dataset {dataset!r}")
    df = ranks.merge(bench[["arch_str", acc_col]], on="arch_str", how="left")
    missing = int(df[acc_col].isna().sum())
    if missing:
        raise ValueError(f"{missing} scored archs have no {dataset} accuracy in the benchmark")
    methods = [m for m in METHOD_ORDER if m in ranks.columns]
    rows = []
    subsets = {"unique": df[df["is_unique"]]}
    if not df["is_unique"].all():
        subsets["all"] = df
    for subset, part in subsets.items():
        for m in methods:
            row = evaluate(part[m].to_numpy(), part[acc_col].to_numpy(), seed=seed, ndcg_k=ndcg_k)
            rows.append({"method": m, "dataset": dataset, "seed": seed, "subset": subset, **row,
                         "n_nets": len(part), "input": input_kind, "batch_size": batch_size})
    result = pd.DataFrame(rows)
    write_parquet(result, out)
    return result


def aggregate(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean and std (ddof=1) over seeds per (method, dataset)."""
    keys = ["method", "dataset"]
    g = metrics.groupby(keys, sort=False)
    out = g[["kt", "spr", "ndcg", "top1"]].mean()
    std = g[["kt", "spr", "ndcg", "top1"]].std(ddof=1).add_suffix("_std")
    meta = g.agg(n_seeds=("seed", "nunique"), n_nets=("n_nets", "first"), input=("input", "first"),
                 batch_size=("batch_size", "first"))
    table = pd.concat([out, std, meta], axis=1).reset_index()
    order = {m: i for i, m in enumerate(METHOD_ORDER)}
    table = table.sort_values(["dataset", "method"], key=lambda s: s.map(order) if s.name == "method" else s)
    return table[TABLE_COLUMNS].reset_index(drop=True)


def to_markdown(table: pd.DataFrame, title: str = "") -> str:
    def fmt(mean: float, std: float) -> str:
        return f"{mean:.3f}" if np.isnan(std) else f"{mean:.3f} ± {std:.3f}"

    lines = [f"# {title}", ""] if title else []
    lines += ["| method | dataset | KT | SPR | nDCG | top-1 | seeds | nets | input | batch |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {r.method} | {r.dataset} | {fmt(r.kt, r.kt_std)} | {fmt(r.spr, r.spr_std)} | "
            f"{fmt(r.ndcg, r.ndcg_std)} | {r.top1:.2f} | {r.n_seeds} | {r.n_nets} | {r.input} | {r.batch_size} |"
        )
    return "\n".join(lines) + "\n"


def write_tables(metric_files: list[str], out_csv: str | Path, out_md: str | Path, *, subset: str,
                 title: str = "") -> pd.DataFrame:
    metrics = pd.concat([read_parquet(f, ("method", "subset")) for f in metric_files], ignore_index=True)
    metrics = metrics[metrics["subset"] == subset]
    if metrics.empty:
        raise ValueError(f"no per-run metrics on the {subset!r} subset")
    table = aggregate(metrics)
    write_text(table.to_csv(index=False, float_format="%.6g"), out_csv)
    write_text(to_markdown(table, title), out_md)
    return table


def compare_with_paper(table_csv: str | Path, table: str = "table1") -> str:
    """Markdown: our rows beside the paper's (Table 1/6; Table 5 for IN16 at batch != 64)."""
    from vkdnw.paper import paper_row

    t = pd.read_csv(table_csv)
    lines = ["| method | dataset | batch | n nets | seeds | KT (ours / paper) | SPR (ours / paper) | nDCG (ours / paper) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in t.itertuples(index=False):
        ref = paper_row(r.method, r.dataset, table, int(r.batch_size))
        if ref is None:
            continue
        cells = [f"{ours:.3f} / {theirs:.3f}" for ours, theirs in zip((r.kt, r.spr, r.ndcg), ref)]
        lines.append(f"| {r.method} | {r.dataset} | {r.batch_size} | {r.n_nets} | {r.n_seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
