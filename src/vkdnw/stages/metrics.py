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
from vkdnw.stages.ranking import (COMPONENT_LETTERS, METHODS, TABLE_ORDER, combine_ranks, component_subsets,
                            nan_last, rerank_aggregates)

TABLE_COLUMNS = ["method", "type", "dataset", "kt", "kt_std", "spr", "spr_std", "ndcg", "ndcg_std", "top1",
                 "top1_std", "n_seeds", "n_nets", "input", "batch_size"]
# Model-driven rankings (vkdnw.stages.model_driven), Table 1's lower block.
MODELS = ("GRAF", "VKDNW_m", "(VKDNW+ZCS)_m", "(VKDNW+ZCS+GRAF)_m")
# The GRAF models with all of zc_combine's nb201_full GRAF features (`model_driven.graf_full_features`):
# not the paper's feature set, so rows of their own beside the paper's.
FULL_MODELS = ("GRAF_full", "(VKDNW+ZCS+GRAF_full)_m")
ALL_MODELS = MODELS + FULL_MODELS
METHOD_ORDER = TABLE_ORDER + list(ALL_MODELS) + [m for m in METHODS if m not in TABLE_ORDER]
# The nets behind the paper's numbers: all unique (Tables 1, 10) or all (Table 6) nets, less
# the 1,024 training nets for the model-driven rows. nDCG@1000 and the top-1 pick of a run on
# a sample are not comparable with them (1,000 of 1,000 nets is the whole ranking); KT and
# SPR estimate the full-space values and stay comparable.
# The nets behind each paper table's nDCG@1000 and top-1; the ablations (5/8/9) use every unique
# ImageNet16-120 net too. A row over fewer nets is an estimate of KT/SPR but not of those two.
PAPER_NETS = {"table1": 9445, "table10": 9445, "table6": 15625, "table5": 9445, "table8": 9445, "table9": 9445}
PAPER_N_TRAIN = 1024


def paper_comparable(method: str, n_nets: int, table: str = "table1") -> bool:
    """Whether a row's nDCG and top-1 are over the nets the paper's are."""
    full = PAPER_NETS.get(table)
    return full is None or int(n_nets) == (full - PAPER_N_TRAIN if method in ALL_MODELS else full)


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


def with_accuracy(frame: pd.DataFrame, benchmark_path: str | Path, dataset: str) -> tuple[pd.DataFrame, str]:
    """``frame`` (keyed by ``arch_str``) joined with the benchmark's accuracy on ``dataset``,
    and that column's name. Every scored arch must have an accuracy: none is dropped silently."""
    return join_accuracy(frame, read_parquet(benchmark_path, ("arch_str",)), dataset, benchmark_path)


def join_accuracy(frame: pd.DataFrame, bench: pd.DataFrame, dataset: str,
                  source: str | Path) -> tuple[pd.DataFrame, str]:
    """:func:`with_accuracy` on a benchmark table already read (``source`` names it in errors)."""
    acc_col = f"acc_{dataset}"
    if acc_col not in bench.columns:
        raise ValueError(f"{source}: no accuracy for dataset {dataset!r}")
    df = frame.merge(bench[["arch_str", acc_col]], on="arch_str", how="left")
    missing = int(df[acc_col].isna().sum())
    if missing:
        raise ValueError(f"{missing} scored archs have no {dataset} accuracy in the benchmark")
    return df, acc_col


def collections(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The collections a run is evaluated on: the unique nets (Table 1) and, where the run
    scored the others too, all nets (Table 6)."""
    out = {"unique": df[df["is_unique"]]}
    if not df["is_unique"].all():
        out["all"] = df
    return out


# A group whose columns may instead come from its real-image twin (Table 5's ablation).
REAL_TWIN = {"vkdnw": "vkdnw_real"}


def _values(scores: pd.DataFrame | None, column: str, group: str) -> set:
    """The values of ``<column>_<group>`` (or its real-image twin's) in the merged scores."""
    cols = [f"{column}_{x}" for x in (group, REAL_TWIN.get(group)) if x]
    return {v for c in cols if scores is not None and c in scores.columns for v in scores[c].dropna().unique()}


def groups_input(scores: pd.DataFrame | None, groups: tuple[str, ...]) -> tuple[str, str]:
    """(input kind, batch size) of a method that reads proxy ``groups``, from the columns the
    score rows record (``input_<group>``, ``batch_size_<group>``); "-" where it takes none."""
    kinds, batches = set(), set()
    for g in groups:
        found = _values(scores, "input", g)
        kinds.update(str(v) for v in found)
        if not found and g == "vkdnw":
            kinds.add("random")  # VKDNW itself always scores noise
        batches.update(str(int(v)) for v in _values(scores, "batch_size", g))
    return "+".join(sorted(kinds)) or "-", "+".join(sorted(batches, key=int)) or "-"


def method_inputs(scores: pd.DataFrame | None) -> dict[str, tuple[str, str]]:
    """(input kind, batch size) of every method (:func:`groups_input`)."""
    return {name: groups_input(scores, m.groups) for name, m in METHODS.items()}


def run_metrics(
    ranks_path: str | Path,
    benchmark_path: str | Path,
    out: str | Path,
    *,
    dataset: str,
    seed: int,
    ndcg_k: int,
    scores_path: str | Path | None = None,
) -> pd.DataFrame:
    """KT, SPR, nDCG@k and top-1 of every method (``table = "main"``) and of every subset of
    VKDNW_agg's components (``table = "components"``, Table 10), on the unique nets and, where
    the run has them, on all nets. Aggregates are recomputed within each subset."""
    ranks = read_parquet(ranks_path, ("arch_str", "is_unique"), remake=True)
    scores = read_parquet(scores_path, ("arch_str",), remake=True) if scores_path else None
    df, acc_col = with_accuracy(ranks, benchmark_path, dataset)
    kinds = method_inputs(scores)
    methods = [m for m in METHOD_ORDER if m in ranks.columns]
    rows = []
    for subset, part in collections(df).items():
        part = rerank_aggregates(part)
        acc = part[acc_col].to_numpy()
        base = {"dataset": dataset, "seed": seed, "subset": subset, "n_nets": len(part)}
        for m in methods:
            row = evaluate(part[m].to_numpy(), acc, seed=seed, ndcg_k=ndcg_k)
            rows.append({"method": m, "type": METHODS[m].type, "table": "main", **base, **row,
                         "input": kinds[m][0], "batch_size": kinds[m][1]})
        if all(c in part.columns for c in COMPONENT_LETTERS.values()):
            for letters in component_subsets():
                comps = tuple(COMPONENT_LETTERS[c] for c in letters)
                rank = combine_ranks(part, comps) if len(comps) > 1 else part[comps[0]].to_numpy()
                row = evaluate(rank, acc, seed=seed, ndcg_k=ndcg_k)
                rows.append({"method": "+".join(letters), "type": "A" if len(comps) > 1 else "S",
                             "table": "components", **base, **row, "input": "-", "batch_size": "-"})
    result = pd.DataFrame(rows)
    write_parquet(result, out)
    return result


def aggregate(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean and std (ddof=1) over seeds per (method, dataset)."""
    keys = ["method", "dataset"]
    g = metrics.groupby(keys, sort=False)
    out = g[["kt", "spr", "ndcg", "top1"]].mean()
    std = g[["kt", "spr", "ndcg", "top1"]].std(ddof=1).add_suffix("_std")
    meta = g.agg(type=("type", "first"), n_seeds=("seed", "nunique"), n_nets=("n_nets", "first"),
                 input=("input", "first"), batch_size=("batch_size", "first"))
    table = pd.concat([out, std, meta], axis=1).reset_index()
    order = {m: i for i, m in enumerate(METHOD_ORDER + ["+".join(x) for x in component_subsets()])}
    table = table.sort_values(["dataset", "method"], key=lambda s: s.map(order) if s.name == "method" else s)
    return table[TABLE_COLUMNS].reset_index(drop=True)


def mean_std(mean: float, std: float, digits: int = 3) -> str:
    """"mean ± std", or the mean alone where there is no std (a single seed)."""
    return f"{mean:.{digits}f}" if np.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def to_markdown(table: pd.DataFrame, title: str = "") -> str:
    lines = [f"# {title}", ""] if title else []
    lines += ["| method | type | dataset | KT | SPR | nDCG | top-1 | seeds | nets | input | batch |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {r.method} | {r.type} | {r.dataset} | {mean_std(r.kt, r.kt_std)} | {mean_std(r.spr, r.spr_std)} | "
            f"{mean_std(r.ndcg, r.ndcg_std)} | {r.top1:.2f} | {r.n_seeds} | {r.n_nets} | {r.input} | {r.batch_size} |"
        )
    return "\n".join(lines) + "\n"


def write_tables(metric_files: list[str], out_csv: str | Path, out_md: str | Path, *, subset: str,
                 title: str = "", table: str = "main") -> pd.DataFrame:
    """Average per-run metrics over seeds: ``table="main"`` gives Tables 1/6 (by ``subset``),
    ``table="components"`` Table 10 (VKDNW_agg's 31 component subsets)."""
    metrics = pd.concat([read_parquet(f, ("method", "subset"), remake=True) for f in metric_files], ignore_index=True)
    metrics = metrics[(metrics["subset"] == subset) & (metrics["table"] == table)]
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
        batch = int(r.batch_size) if str(r.batch_size).isdigit() else 64
        ref = paper_row(r.method, r.dataset, table, batch)
        if ref is None:
            continue
        cells = [f"{ours:.3f} / {theirs:.3f}" for ours, theirs in zip((r.kt, r.spr, r.ndcg), ref)]
        if not paper_comparable(r.method, r.n_nets, table):
            cells[2] = f"{r.ndcg:.3f} / - (sample)"
        lines.append(f"| {r.method} | {r.dataset} | {r.batch_size} | {r.n_nets} | {r.n_seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def compare_runs(run_a: str | Path, run_b: str | Path, benchmark: str | Path, dataset: str,
                 methods: list[str] | None = None) -> pd.DataFrame:
    """Each method's KT and SPR in two runs (``.../{dataset}/seed{s}`` folders with ranks and
    scores) over the unique nets both scored, their differences, and the KT between the two
    runs' rankings: e.g. one proxy fed noise in one run and images in the other."""
    from vkdnw.stages.benchmark import load_benchmark

    runs = [Path(run_a), Path(run_b)]
    ranks = [read_parquet(r / "ranks.parquet", ("arch_str", "is_unique")) for r in runs]
    kinds = [method_inputs(read_parquet(r / "scores.parquet", ("arch_str",))) for r in runs]
    shared = [m for m in ranks[0].columns if m in ranks[1].columns and m in METHODS]
    methods = methods or shared
    missing = sorted(set(methods) - set(shared))
    if missing:
        raise ValueError(f"methods not ranked in both runs: {missing}")
    a, b = (r[r["is_unique"]].set_index("arch_str") for r in ranks)
    nets = a.index.intersection(b.index)
    if len(nets) < 2:
        raise ValueError(f"the two runs share {len(nets)} unique nets; need at least two")
    df, acc_col = join_accuracy(pd.DataFrame({"arch_str": nets}), load_benchmark(benchmark), dataset, benchmark)
    acc = df[acc_col].to_numpy(dtype=float)
    rows = []
    for m in methods:
        ra, rb = a.loc[nets, m].to_numpy(dtype=float), b.loc[nets, m].to_numpy(dtype=float)
        ok = np.isfinite(ra) & np.isfinite(rb) & np.isfinite(acc)
        ea = evaluate(ra[ok], acc[ok], seed=0)
        eb = evaluate(rb[ok], acc[ok], seed=0)
        rows.append({"method": m, "dataset": dataset, "input_a": kinds[0][m][0], "input_b": kinds[1][m][0],
                     "n_nets": int(ok.sum()), "kt_a": ea["kt"], "kt_b": eb["kt"], "d_kt": eb["kt"] - ea["kt"],
                     "spr_a": ea["spr"], "spr_b": eb["spr"], "d_spr": eb["spr"] - ea["spr"],
                     "kt_between": float(kendalltau(ra[ok], rb[ok]).statistic)})
    return pd.DataFrame(rows)


def runs_markdown(df: pd.DataFrame) -> str:
    lines = ["| method | input a -> b | nets | KT a / b (b - a) | SPR a / b (b - a) | KT between |",
             "|---|---|---|---|---|---|"]
    for r in df.itertuples(index=False):
        lines.append(f"| {r.method} | {r.input_a} -> {r.input_b} | {r.n_nets} | {r.kt_a:.3f} / {r.kt_b:.3f} "
                     f"({r.d_kt:+.3f}) | {r.spr_a:.3f} / {r.spr_b:.3f} ({r.d_spr:+.3f}) | {r.kt_between:.3f} |")
    return "\n".join(lines) + "\n"


def aleph_correlations(score_files: list[tuple[str, str]], *, subset: str = "unique",
                       nonfinite: str = "lowest") -> pd.DataFrame:
    """Table 4: Kendall tau of aleph with VKDNW and the AZ-NAS components, per dataset
    (mean over the runs of that dataset); no ground truth involved. ``score_files``: each
    run's dataset and merged scores.

    ``nonfinite="lowest"`` correlates every net as the rankings order it (NaN and -inf
    last, as Table 1 does); ``"drop"`` leaves those nets out. It matters for expressivity,
    which is -inf on 1,365 of the 9,445 nets, nearly all of few trainable layers: 0.564
    against 0.473 on ImageNet16-120 (the paper: 0.539)."""
    if nonfinite not in ("lowest", "drop"):
        raise ValueError(f"nonfinite must be 'lowest' or 'drop', not {nonfinite!r}")
    cols = {"VKDNW": "vkdnw", "trainability": "trainability", "expressivity": "expressivity",
            "progressivity": "progressivity"}
    rows = []
    for dataset, f in score_files:
        d = read_parquet(f, ("arch_str", "aleph", "is_unique"), remake=True)
        if subset == "unique":
            d = d[d["is_unique"]]
        for name, col in cols.items():
            if col in d.columns:
                score = pd.Series(nan_last(d[col]), index=d.index)
                if nonfinite == "drop":
                    score = score[np.isfinite(score)]
                rows.append({"component": name, "dataset": dataset,
                             "kt": float(kendalltau(d.loc[score.index, "aleph"], score).statistic)})
    if not rows:
        raise ValueError("no VKDNW or AZ-NAS scores to correlate with aleph")
    t = pd.DataFrame(rows).groupby(["component", "dataset"], sort=False)["kt"].mean().unstack("dataset")
    return t.reindex([c for c in cols if c in t.index]).reset_index()


def write_top1_table(table_csv: str | Path, out_csv: str | Path, out_md: str | Path) -> pd.DataFrame:
    """Table 7: the accuracy of the top net each method picks (mean and std over seeds) per
    dataset, beside the paper's where it has the row. Read from Table 1's ``top1`` columns,
    so it is over the same nets (model-driven rows: their test nets)."""
    from vkdnw.paper import TABLE7

    t = pd.read_csv(table_csv)
    rows = []
    for (method, dataset), r in t.set_index(["method", "dataset"]).iterrows():
        paper = TABLE7.get(method, {}).get(dataset, (np.nan, np.nan))
        if not paper_comparable(method, r["n_nets"]):
            paper = (np.nan, np.nan)  # the best net of a sample is not the space's
        rows.append({"method": method, "type": r["type"], "dataset": dataset, "top1": r["top1"],
                     "top1_std": r["top1_std"], "n_seeds": r["n_seeds"], "n_nets": r["n_nets"],
                     "input": r["input"], "paper_top1": paper[0], "paper_top1_std": paper[1]})
    out = pd.DataFrame(rows)
    write_text(out.to_csv(index=False, float_format="%.6g"), out_csv)
    lines = ["# Table 7: accuracy (%) of the top net each method picks, mean ± std over seeds", "",
             "| method | type | dataset | ours | paper | seeds | nets | input |", "|---|---|---|---|---|---|---|---|"]
    for r in out.itertuples():
        ours = mean_std(r.top1, r.top1_std, 2)
        paper = "-" if np.isnan(r.paper_top1) else mean_std(r.paper_top1, r.paper_top1_std, 2)
        lines.append(f"| {r.method} | {r.type} | {r.dataset} | {ours} | {paper} | {r.n_seeds} | {r.n_nets} | {r.input} |")
    write_text("\n".join(lines) + "\n", out_md)
    return out


def write_html_table(table_csv: str | Path, out: str | Path, title: str = "") -> None:
    """A results CSV as a standalone HTML table: the Snakemake report shows HTML in place,
    whereas a CSV is only offered as a download."""
    t = pd.read_csv(table_csv)
    body = t.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="-", border=0, classes="vkdnw")
    style = ("<style>table.vkdnw{border-collapse:collapse;font:13px sans-serif}"
             "table.vkdnw td,table.vkdnw th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}</style>")
    write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>{style}</head>"
               f"<body><h3>{title}</h3>{body}</body></html>\n", out)
