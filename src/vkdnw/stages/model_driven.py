"""Model-driven rankings (Table 1's lower block): a random forest trained on 1,024 nets.

Per run seed, ``n_train`` nets are drawn (seeded) from the collection, a
``RandomForestRegressor`` is fitted on them with target ``logit(acc / 100)``, and the other
nets are ranked by its prediction. ``params`` is always a feature. The models:

* ``VKDNW_m``: the VKDNW lambda deciles 1..9, aleph and FLOPs;
* ``(VKDNW+ZCS)_m``: adds every zero-cost score the run has, written only when the run has
  at least the ``zcs_required`` groups (by default Table 1's zero-cost set, TE-NAS optional);
* ``(VKDNW+ZCS+GRAF)_m``: adds the GRAF graph features (:mod:`vkdnw.stages.graf`);
* ``GRAF``: the GRAF features (and params) alone.

The GRAF features are the paper's: zc_combine's op_count, max_op_on_path and node_degree
families, computed as zc_combine does (``graf_ties="first"``), without min_path_len (the
columns the authors' notebook selects; :mod:`vkdnw.stages.graf`). ``graf_full`` adds the two
GRAF models with all four families of zc_combine's ``nb201_full``, as rows of their own
(``GRAF_full``, ``(VKDNW+ZCS+GRAF_full)_m``).

Only metrics on the test nets are written: predictions are fitted to the ground truth, so
they are never stored next to the committed scores.
"""

from __future__ import annotations

import sys

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor

from vkdnw.stages.graf import FAMILIES, PAPER_FAMILIES, feature_frame
from vkdnw.io import read_parquet, write_parquet
from vkdnw.paper import TABLE1_ZERO_COST_GROUPS
from vkdnw.stages.metrics import FULL_MODELS, MODELS, collections, evaluate, groups_input, with_accuracy
from vkdnw.proxies.registry import get_proxy
from vkdnw.spaces.nb201 import without_dead_edges

VKDNW_FEATURES = [f"vkdnw_lambda_{k}" for k in range(1, 10)] + ["aleph", "flops"]
ZCS_FEATURES = ["vkdnw", "jacov", "expressivity", "progressivity", "trainability", "gradnorm", "grasp", "snip",
                "synflow", "naswot", "zen", "zico", "ntk", "linear_regions"]

# The zero-cost groups behind the paper's "(VKDNW+ZCS)" rows ("every zero-cost score"): Table 1's
# zero-cost proxies but GradSign, which it only quotes, and TE-NAS, which joins when a run has it
# (its NTK alone costs 6.6 s per net on one CPU thread, more than the
# others together). A run without one of these writes no (VKDNW+ZCS) row:
# a forest on, say, SynFlow alone is a weaker model than the paper's, not a reproduction of it.
PAPER_ZCS_GROUPS = TABLE1_ZERO_COST_GROUPS
ZCS_GROUPS = PAPER_ZCS_GROUPS + ("tenas",)  # the groups of ZCS_FEATURES but VKDNW's entropy
ZCS_MODELS = ("(VKDNW+ZCS)_m", "(VKDNW+ZCS+GRAF)_m")


def group_columns(groups: tuple[str, ...] | list[str]) -> list[str]:
    """The score columns of proxy ``groups`` (their ``input`` column aside)."""
    return [c for g in groups for c in get_proxy(g).columns if c != "input"]


def model_groups(model: str, columns: list[str]) -> tuple[str, ...]:
    """The proxy groups whose scores a model's feature ``columns`` come from."""
    groups = {"size"} if "params" in columns else set()
    if not model.startswith("GRAF"):
        groups.add("vkdnw")
    for g in ZCS_GROUPS:
        if set(group_columns([g])) & set(columns):
            groups.add(g)
    return tuple(sorted(groups))


def model_features(scores: pd.DataFrame, model: str,
                   zcs_required: tuple[str, ...] | list[str] = PAPER_ZCS_GROUPS,
                   graf_ties: str = "first") -> pd.DataFrame | None:
    """The feature matrix of ``model`` (rows of ``scores``), or None if the run lacks it.

    A ``FULL_MODELS`` name is its GRAF model with all of zc_combine's GRAF families.
    ``zcs_required``: proxy groups a (VKDNW+ZCS) model needs; it still takes every zero-cost
    score the run has. ``graf_ties``: how GRAF's max_op_on_path breaks ties (:mod:`vkdnw.stages.graf`).
    """
    families = FAMILIES if model in FULL_MODELS else PAPER_FAMILIES
    model = model.replace("GRAF_full", "GRAF")
    have = [c for c in ZCS_FEATURES if c in scores.columns]
    if model in ("VKDNW_m", *ZCS_MODELS) and not set(VKDNW_FEATURES) <= set(scores.columns):
        return None
    if model in ZCS_MODELS and not set(group_columns(zcs_required)) <= set(scores.columns):
        return None
    if "params" not in scores.columns:
        return None
    cols = ["params"]
    if model != "GRAF":
        cols += VKDNW_FEATURES
    if model in ZCS_MODELS:
        # VKDNW's own entropy alone is not "ZCS": without another zero-cost group the row
        # would be VKDNW_m again under another name, so it is left out.
        if not set(have) - {"vkdnw"}:
            return None
        cols += have
    x = scores[cols].astype(float).replace([np.inf, -np.inf], np.nan)
    # sklearn's trees cast X to float32, which overflows at 3.4e38 (SynFlow reaches 1e66).
    # A signed log1p keeps every score's order, and order is all a tree splits on.
    zcs = [c for c in cols if c in ZCS_FEATURES]
    x[zcs] = np.sign(x[zcs]) * np.log1p(np.abs(x[zcs]))
    # Trees need finite numbers: a failed score (NaN, -inf trainability) becomes the
    # column's minimum minus one, i.e. "worse than every scored net".
    x = x.fillna(x.min() - 1.0).fillna(0.0)
    if model in ("(VKDNW+ZCS+GRAF)_m", "GRAF"):
        graf = feature_frame(scores["arch_str"].tolist(), graf_ties, families).reset_index(drop=True)
        x = pd.concat([x.reset_index(drop=True), graf], axis=1)
    return x.reset_index(drop=True)


def logit(acc_percent: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(acc_percent, dtype=float) / 100.0, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def train_mask(n: int, n_train: int, seed: int, strata: np.ndarray | None = None) -> np.ndarray:
    """The run seed's training nets: ``n_train`` of ``n`` drawn without replacement (the
    stage's draw), or, with ``strata`` (a label per net), the same share of every stratum."""
    if n_train >= n:
        raise ValueError(f"n_train={n_train} leaves no test nets among {n}")
    rng = np.random.default_rng(seed)
    train = np.zeros(n, dtype=bool)
    if strata is None:
        train[rng.choice(n, size=n_train, replace=False)] = True
        return train
    for label in np.unique(strata):
        members = np.flatnonzero(strata == label)
        take = int(round(n_train * len(members) / n))
        train[rng.choice(members, size=min(take, len(members)), replace=False)] = True
    return train


def fit_and_test(x: np.ndarray, y: np.ndarray, acc: np.ndarray, train: np.ndarray, *, seed: int, ndcg_k: int,
                 rf: dict | None = None) -> dict:
    """Fit a seeded forest on the training nets' target ``y``; metrics of its ranking of the rest."""
    forest = RandomForestRegressor(random_state=seed, **(rf or {})).fit(x[train], y[train])
    return evaluate(forest.predict(x[~train]), acc[~train], seed=seed, ndcg_k=ndcg_k)


def fit_and_evaluate(scores: pd.DataFrame, acc: np.ndarray, *, seed: int, n_train: int, ndcg_k: int,
                     rf: dict | None = None, graf_full: bool = False, graf_ties: str = "first",
                     zcs_required: tuple[str, ...] | list[str] = PAPER_ZCS_GROUPS) -> list[dict]:
    """Metrics of every available model on the nets outside its training sample, with the
    input and batch size of the scores it was fed (as the single methods' rows say)."""
    train = train_mask(len(scores), n_train, seed)
    rows = []
    for model in MODELS + (FULL_MODELS if graf_full else ()):
        x = model_features(scores, model, zcs_required, graf_ties)
        if x is None:
            continue
        groups = model_groups(model, list(x.columns))
        kind, batch = groups_input(scores, groups)
        row = fit_and_test(x.to_numpy(), logit(acc), acc, train, seed=seed, ndcg_k=ndcg_k, rf=rf)
        rows.append({"method": model, "type": "A", "n_nets": int((~train).sum()), "n_train": n_train,
                     "n_features": x.shape[1], "groups": ",".join(groups), "input": kind, "batch_size": batch,
                     **row})
    return rows


def run_model_metrics(scores_path: str | Path, benchmark_path: str | Path, out: str | Path, *, dataset: str,
                      seed: int, n_train: int, ndcg_k: int, rf: dict | None = None,
                      graf_full: bool = False, graf_ties: str = "first",
                      zcs_required: tuple[str, ...] | list[str] = PAPER_ZCS_GROUPS) -> pd.DataFrame:
    scores = read_parquet(scores_path, ("arch_str", "is_unique"), remake=True)
    df, acc_col = with_accuracy(scores, benchmark_path, dataset)
    rows = []
    for subset, part in collections(df).items():
        if n_train >= len(part):
            # A small run (the README's quick one with the paper's 1,024) still gets its tables.
            print(f"model-driven rows skipped for the {len(part)} {subset} nets of {dataset} seed {seed}: "
                  f"n_train={n_train} leaves no test nets; set model_driven.n_train below {len(part)}",
                  file=sys.stderr)
            continue
        part = part.reset_index(drop=True)
        for r in fit_and_evaluate(part, part[acc_col].to_numpy(), seed=seed, n_train=n_train, ndcg_k=ndcg_k, rf=rf,
                                  graf_full=graf_full, graf_ties=graf_ties, zcs_required=zcs_required):
            rows.append({**r, "dataset": dataset, "seed": seed, "subset": subset, "table": "main"})
    result = pd.DataFrame(rows) if rows else pd.DataFrame(columns=["method", "dataset", "seed", "subset", "table"])
    write_parquet(result, out)
    return result


# ----------------------------------------------------------------------------- variants


def _graf_variant(scores: pd.DataFrame, *, families: tuple[str, ...] = PAPER_FAMILIES, ties: str = "first",
                  params: bool = True, live_cells: bool = False) -> pd.DataFrame | None:
    """GRAF's features of the given families (and ``params``), tied paths broken by ``ties``;
    ``live_cells``: of each cell with its dead edges set to none (its unique twin's features);
    None where no cell has a dead edge (the unique nets), as it would repeat another variant."""
    archs = scores["arch_str"].tolist()
    if live_cells:
        live = [without_dead_edges(a) for a in archs]
        if live == archs:
            return None
        archs = live
    graf = feature_frame(archs, ties, families).reset_index(drop=True)
    if not params:
        return graf
    if "params" not in scores.columns:
        return None
    return pd.concat([scores[["params"]].astype(float).reset_index(drop=True), graf], axis=1)


def _vkdnw_variant(scores: pd.DataFrame, cols: list[str]) -> pd.DataFrame | None:
    if not set(cols) <= set(scores.columns):
        return None
    return scores[cols].astype(float).reset_index(drop=True)


def _vkdnw_m(scores: pd.DataFrame) -> pd.DataFrame | None:
    """The stage's VKDNW_m features (the variants that change its target, data or forest)."""
    return model_features(scores, "VKDNW_m")


# Feature sets and targets the paper's GRAF and VKDNW_m rows might have used: what
# `vkdnw model-variants` measures to locate a gap (the stage's forest unless the third item says otherwise).
VARIANTS: dict[str, tuple] = {
    "GRAF": (lambda s: model_features(s, "GRAF"), "logit"),
    "GRAF, target acc": (lambda s: model_features(s, "GRAF"), "acc"),
    "GRAF without params": (lambda s: _graf_variant(s, params=False), "logit"),
    "GRAF op counts + params": (lambda s: _graf_variant(s, families=("op_count",)), "logit"),
    "GRAF, ties to most S-edges": (lambda s: _graf_variant(s, ties="most"), "logit"),
    "GRAF with min_path_len (all of nb201_full)": (lambda s: _graf_variant(s, families=FAMILIES), "logit"),
    "GRAF without node degrees": (
        lambda s: _graf_variant(s, families=("op_count", "min_path_len", "max_op_on_path")), "logit"),
    # The GRAF default before issue 29 found the authors' column selection.
    "GRAF without node degrees, ties to most S-edges": (lambda s: _graf_variant(
        s, families=("op_count", "min_path_len", "max_op_on_path"), ties="most"), "logit"),
    # The authors' notebook's forest: 300 trees on the raw accuracy, no params feature.
    "GRAF, the authors' notebook's forest": (lambda s: _graf_variant(s, params=False), "acc",
                                              {"rf": {"n_estimators": 300}}),
    # Cells with dead edges (only in --subset all) described by their unique twin's graph.
    "GRAF of the cells without dead edges": (lambda s: _graf_variant(s, live_cells=True), "logit"),
    "GRAF without node degrees, ties to most S-edges, cells without dead edges": (lambda s: _graf_variant(
        s, families=("op_count", "min_path_len", "max_op_on_path"), ties="most", live_cells=True), "logit"),
    "VKDNW_m": (_vkdnw_m, "logit"),
    "VKDNW_m, target acc": (_vkdnw_m, "acc"),
    "VKDNW_m without params": (lambda s: _vkdnw_variant(s, VKDNW_FEATURES), "logit"),
    "VKDNW_m, the authors' notebook's forest": (lambda s: _vkdnw_variant(s, VKDNW_FEATURES), "acc",
                                                 {"rf": {"n_estimators": 300}}),
    "VKDNW_m without FLOPs/params": (lambda s: _vkdnw_variant(s, VKDNW_FEATURES[:-1]), "logit"),
    "VKDNW_m lambdas only": (lambda s: _vkdnw_variant(s, VKDNW_FEATURES[:9]), "logit"),
    "VKDNW entropy + aleph": (lambda s: _vkdnw_variant(s, ["vkdnw", "aleph"]), "logit"),
    # Issue 29's systematic search for the paper's VKDNW_m: more feature sets, then the stage's
    # features with another training-set size, forest or draw of the training nets.
    "VKDNW_m + entropy": (lambda s: _vkdnw_variant(s, ["vkdnw", *VKDNW_FEATURES, "params"]), "logit"),
    "VKDNW_m without aleph": (lambda s: _vkdnw_variant(s, [*VKDNW_FEATURES[:9], "flops", "params"]), "logit"),
    "VKDNW_m, n_train / 4": (_vkdnw_m, "logit", {"n_train_factor": 0.25}),
    "VKDNW_m, n_train / 2": (_vkdnw_m, "logit", {"n_train_factor": 0.5}),
    "VKDNW_m, 2 n_train": (_vkdnw_m, "logit", {"n_train_factor": 2.0}),
    "VKDNW_m, sqrt features per split": (_vkdnw_m, "logit",
                                         {"rf": {"max_features": "sqrt"}}),
    "VKDNW_m, 5 nets per leaf": (_vkdnw_m, "logit", {"rf": {"min_samples_leaf": 5}}),
    "VKDNW_m, 500 trees": (_vkdnw_m, "logit", {"rf": {"n_estimators": 500}}),
    "VKDNW_m, training nets stratified by accuracy decile": (_vkdnw_m, "logit",
                                                              {"stratified": True}),
}


def model_variants(scores_path: str | Path, benchmark_path: str | Path, *, dataset: str, seeds: list[int],
                   n_train: int, ndcg_k: int, subset: str = "unique") -> pd.DataFrame:
    """KT/SPR/nDCG of each feature-set/target variant, mean and std over ``seeds`` (each seed
    draws its own training nets and forest, as the model-driven stage does)."""
    scores = read_parquet(scores_path, ("arch_str", "is_unique"))
    df, acc_col = with_accuracy(scores, benchmark_path, dataset)
    part = collections(df)[subset].reset_index(drop=True)
    acc = part[acc_col].to_numpy()
    deciles = pd.qcut(acc, 10, labels=False, duplicates="drop")
    rows = []
    for name, (features, target, *opts) in VARIANTS.items():
        frame = features(part)
        if frame is None:  # e.g. the VKDNW variants of a run without VKDNW scores
            continue
        opt = opts[0] if opts else {}
        size = int(n_train * opt.get("n_train_factor", 1.0))
        if size >= len(part):  # a larger training set than the run has nets to test on
            continue
        x = frame.to_numpy()
        y = logit(acc) if target == "logit" else acc
        for seed in seeds:
            train = train_mask(len(part), size, seed, deciles if opt.get("stratified") else None)
            row = fit_and_test(x, y, acc, train, seed=seed, ndcg_k=ndcg_k, rf=opt.get("rf"))
            rows.append({"variant": name, "seed": seed, "n_features": x.shape[1], "n_train": int(train.sum()), **row})
    per_seed = pd.DataFrame(rows)
    g = per_seed.groupby("variant", sort=False)
    return pd.concat([g[["kt", "spr", "ndcg"]].mean(), g[["kt", "spr"]].std(ddof=1).add_suffix("_std"),
                      g[["n_features", "n_train"]].first()], axis=1).reset_index()
