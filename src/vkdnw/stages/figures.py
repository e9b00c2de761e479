"""The paper's figures, and rank-vs-accuracy densities.

* Figure 1: nDCG of the training-free methods per dataset, from Table 1 (ours vs the paper's).
* Figure 2: the toy example of Sec. 3 (two rankings of 10 nets; KT/SPR vs nDCG@5).

* Figure 3 (size = aleph): for every aleph group (nets with the same number of trainable
  layers), the mean rank of each component, normalised to [0, 1]; the legend gives the
  component's Kendall tau with aleph over all nets. A flat line means "orthogonal to size".
* Figure 4 (size = #params): within every aleph group, the Spearman rho between the
  component and the number of parameters; the legend gives the overall tau with #params.

Figures 3 and 4 read a run's merged scores (no ground truth) and are drawn per dataset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, rankdata, spearmanr

from vkdnw.io import read_parquet
from vkdnw.stages.metrics import ALL_MODELS, evaluate, paper_comparable, with_accuracy
from vkdnw.plotting import plt, save_figure

COMPONENTS = {"VKDNW": "vkdnw", "expressivity": "expressivity", "progressivity": "progressivity",
              "trainability": "trainability"}


def _finite(d: pd.DataFrame, col: str) -> pd.DataFrame:
    v = d[col].astype(float)
    return d[np.isfinite(v)]


def size_profile(scores: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per aleph group and component: mean normalised rank and Spearman rho with #params;
    per component: tau with aleph and with #params over all nets)."""
    rows, overall = [], []
    for name, col in COMPONENTS.items():
        if col not in scores.columns:
            continue
        d = _finite(scores, col)
        r = (rankdata(d[col]) - 1) / max(len(d) - 1, 1)
        d = d.assign(norm_rank=r)
        overall.append({"component": name, "kt_aleph": float(kendalltau(d["aleph"], d[col]).statistic),
                        "kt_params": float(kendalltau(d["params"], d[col]).statistic)})
        for a, g in d.groupby("aleph"):
            rho = float(spearmanr(g["params"], g[col]).statistic) if len(g) > 2 and g["params"].nunique() > 1 else np.nan
            rows.append({"component": name, "aleph": int(a), "n": len(g), "mean_rank": float(g["norm_rank"].mean()),
                         "spr_params": rho})
    if not overall:
        raise ValueError("no VKDNW or AZ-NAS component scores to plot")
    return pd.DataFrame(rows), pd.DataFrame(overall)


def draw_figures(score_files: list[tuple[str, str]], out_dir: str | Path) -> list[Path]:
    """figure3_<dataset>.png/.svg and figure4_<dataset>.png/.svg for each run's scores
    (``score_files``: dataset and merged scores)."""
    out_dir = Path(out_dir)
    written = []
    for dataset, f in score_files:
        scores = read_parquet(f, ("arch_str", "aleph", "params"), remake=True)
        groups, overall = size_profile(scores)
        kt = overall.set_index("component")
        for fig_no, ycol, ylabel, ktcol in ((3, "mean_rank", "mean rank (0..1, over all nets) in the group", "kt_aleph"),
                                           (4, "spr_params", "Spearman rho with #params within the group",
                                            "kt_params")):
            fig, ax = plt.subplots(figsize=(6, 4))
            for name, g in groups.groupby("component", sort=False):
                ax.plot(g["aleph"], g[ycol], marker="o", label=f"{name} (KT {kt.loc[name, ktcol]:+.3f})")
            ax.set_xlabel("aleph (trainable layers)")
            ax.set_ylabel(ylabel)
            size = "aleph" if fig_no == 3 else "#params"
            ax.set_title(f"Figure {fig_no}: components vs {size}, {dataset}")
            ax.axhline(0.5 if fig_no == 3 else 0.0, color="grey", lw=0.5)
            ax.legend(fontsize=8)
            written += save_figure(fig, out_dir, f"figure{fig_no}_{dataset}")
    return written


# ----------------------------------------------------------------------------- Figures 1, 2


# The paper's toy example (Sec. 3, Figure 2): 10 nets with accuracies 100, 90, ..., 10, and
# two rankings listed best first. "damaged top" swaps the two best with the 3rd and 4th;
# "perfect top" is right at the top and reverses the four worst.
TOY_ACC = np.arange(100.0, 0.0, -10.0)
TOY_RANKINGS = {"damaged top": [2, 3, 0, 1, 4, 5, 6, 7, 8, 9], "perfect top": [0, 1, 2, 3, 4, 5, 9, 8, 7, 6]}
# Rows of Figure 1: the training-free methods (no model fitted to accuracies).
FIGURE1_EXCLUDE = set(ALL_MODELS) | {"params", "VKDNW"}
# Methods whose rank-vs-accuracy density is drawn, where the run has them.
DENSITY_METHODS = ("VKDNW_single", "VKDNW_agg", "AZ-NAS", "aleph", "FLOPs", "Jacov")


def toy_rank(order_best_first: list[int]) -> np.ndarray:
    """Ranks (higher = better) of nets listed best first."""
    rank = np.empty(len(order_best_first))
    rank[np.array(order_best_first)] = np.arange(len(order_best_first), 0, -1)
    return rank


def toy_metrics(ndcg_k: int = 5) -> pd.DataFrame:
    """KT, SPR and nDCG@5 of the two toy rankings (what Figure 2 annotates)."""
    rows = [{"ranking": name, **evaluate(toy_rank(order), TOY_ACC, seed=0, ndcg_k=ndcg_k)}
            for name, order in TOY_RANKINGS.items()]
    return pd.DataFrame(rows)


def draw_toy(out_dir: str | Path) -> list[Path]:
    """Figure 2: accuracies in the order each toy ranking puts them, with the three metrics."""
    out_dir = Path(out_dir)
    m = toy_metrics().set_index("ranking")
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), sharey=True, layout="constrained")
    for ax, (name, order) in zip(axes, TOY_RANKINGS.items()):
        pos = np.arange(1, len(order) + 1)
        ax.bar(pos, TOY_ACC[order], color=["tab:red" if TOY_ACC[i] >= 90 else "tab:blue" for i in order])
        r = m.loc[name]
        ax.set_title(f"{name}\nKT {r.kt:.3f}  SPR {r.spr:.3f}  nDCG@5 {r.ndcg:.3f}", fontsize=9)
        ax.set_xlabel("position in the ranking (best first)")
        ax.set_xticks(pos)
    axes[0].set_ylabel("accuracy of the net placed there")
    fig.suptitle("Figure 2: toy example, 10 nets with accuracies 100, 90, ..., 10", fontsize=10)
    return save_figure(fig, out_dir, "figure2")


def draw_figure1(table_csv: str | Path, out_dir: str | Path) -> list[Path]:
    """Figure 1: nDCG@P of the training-free methods, one chart per dataset of Table 1, with
    the paper's value as a tick where it has one."""
    from vkdnw.paper import TABLE1

    out_dir = Path(out_dir)
    table = pd.read_csv(table_csv)
    written = []
    for dataset, t in table.groupby("dataset", sort=False):
        t = t[~t["method"].isin(FIGURE1_EXCLUDE)].sort_values("ndcg")
        fig, ax = plt.subplots(figsize=(6, 0.3 * len(t) + 1.2))
        y = np.arange(len(t))
        colors = ["tab:orange" if m.startswith("VKDNW") else ("tab:green" if ty == "A" else "tab:blue")
                  for m, ty in zip(t["method"], t["type"])]
        ax.barh(y, t["ndcg"], xerr=t["ndcg_std"].fillna(0), color=colors)
        comparable = [paper_comparable(m, n) for m, n in zip(t["method"], t["n_nets"])]
        paper = [TABLE1.get(m, {}).get(dataset, (np.nan,) * 3)[2] if ok else np.nan
                 for m, ok in zip(t["method"], comparable)]
        ax.set_yticks(y, [f"{m} ({ty})" for m, ty in zip(t["method"], t["type"])], fontsize=8)
        ax.set_xlabel("nDCG@1000 (ours: bars; S single, A aggregated)")
        title = f"Figure 1: training-free NAS methods, {dataset}"
        if all(comparable):
            ax.plot(paper, y, "k|", markersize=12, label="paper")
            ax.legend(fontsize=8, loc="lower right")
        else:  # a sample's nDCG@1000 is not the paper's: no ticks to compare against
            title += f"\n{int(t['n_nets'].min())}-net sample: not comparable with the paper's nDCG"
        ax.set_title(title, fontsize=10)
        written += save_figure(fig, out_dir, f"figure1_{dataset}")
    return written


def draw_rank_accuracy(ranks_path: str | Path, benchmark_path: str | Path, dataset: str,
                       out_dir: str | Path) -> list[Path]:
    """Rank against accuracy for the main methods of one run, as a density (hexbin counts)
    rather than one dot per net: 9,445 dots overplot, and the committed figure then holds no
    per-net accuracy. The line is the median accuracy per rank decile."""
    out_dir = Path(out_dir)
    ranks = read_parquet(ranks_path, ("arch_str",), remake=True)
    df, acc_col = with_accuracy(ranks, benchmark_path, dataset)
    methods = [m for m in DENSITY_METHODS if m in df.columns]
    if not methods:
        raise ValueError(f"{ranks_path}: none of {DENSITY_METHODS} ranked")
    ncol = min(3, len(methods))
    nrow = -(-len(methods) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.2 * nrow), squeeze=False, sharey=True,
                             layout="constrained")
    for ax, m in zip(axes.flat, methods):
        d = df[np.isfinite(df[m].astype(float))]
        pct = (rankdata(d[m]) - 1) / max(len(d) - 1, 1)  # 1 = ranked best
        ax.hexbin(pct, d[acc_col], gridsize=30, bins="log", mincnt=1, cmap="viridis")
        dec = np.minimum((pct * 10).astype(int), 9)
        med = pd.Series(d[acc_col].to_numpy()).groupby(dec).median()
        ax.plot((med.index + 0.5) / 10, med.to_numpy(), color="tab:red", lw=1.5)
        ax.set_title(f"{m} (KT {kendalltau(d[m], d[acc_col]).statistic:.3f})", fontsize=9)
        ax.set_xlabel("rank percentile (1 = best)")
    for ax in axes.flat[len(methods):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{dataset} test accuracy (%)")
    fig.suptitle(f"Rank vs accuracy, {dataset}, {len(df)} nets (log-count density; red: median per decile)",
                 fontsize=10)
    return save_figure(fig, out_dir, f"rank_accuracy_{dataset}")
