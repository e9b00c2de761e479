"""Model-driven rankings (Table 1's lower block): a random forest trained on 1,024 nets.

Per run seed, ``n_train`` nets are drawn (seeded) from the collection, a
``RandomForestRegressor`` is fitted on them with target ``logit(acc / 100)``, and the other
nets are ranked by its prediction. ``params`` is always a feature. The models:

* ``VKDNW_m``: the VKDNW lambda deciles 1..9, aleph and FLOPs;
* ``(VKDNW+ZCS)_m``: adds every zero-cost score the run has;
* ``(VKDNW+ZCS+GRAF)_m``: adds the GRAF graph features (:mod:`vkdnw.graf`);
* ``GRAF``: the GRAF features (and params) alone.

Only metrics on the test nets are written: predictions are fitted to the ground truth, so
they are never stored next to the committed scores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor

from vkdnw.graf import feature_frame
from vkdnw.io import read_parquet, write_parquet
from vkdnw.metrics import MODELS, collections, evaluate, with_accuracy

VKDNW_FEATURES = [f"vkdnw_lambda_{k}" for k in range(1, 10)] + ["aleph", "flops"]
ZCS_FEATURES = ["vkdnw", "jacov", "expressivity", "progressivity", "trainability", "gradnorm", "grasp", "snip",
                "synflow", "naswot", "zen", "zico", "ntk", "linear_regions"]


def model_features(scores: pd.DataFrame, model: str) -> pd.DataFrame | None:
    """The feature matrix of ``model`` (rows of ``scores``), or None if the run lacks it."""
    have = [c for c in ZCS_FEATURES if c in scores.columns]
    if model in ("VKDNW_m", "(VKDNW+ZCS)_m", "(VKDNW+ZCS+GRAF)_m") and not set(VKDNW_FEATURES) <= set(scores.columns):
        return None
    if "params" not in scores.columns:
        return None
    cols = ["params"]
    if model != "GRAF":
        cols += VKDNW_FEATURES
    if model in ("(VKDNW+ZCS)_m", "(VKDNW+ZCS+GRAF)_m"):
        if not have:
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
        graf = feature_frame(scores["arch_str"].tolist()).reset_index(drop=True)
        x = pd.concat([x.reset_index(drop=True), graf], axis=1)
    return x.reset_index(drop=True)


def logit(acc_percent: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(acc_percent, dtype=float) / 100.0, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_and_evaluate(scores: pd.DataFrame, acc: np.ndarray, *, seed: int, n_train: int, ndcg_k: int,
                     rf: dict | None = None) -> list[dict]:
    """Metrics of every available model on the nets outside its training sample."""
    n = len(scores)
    if n_train >= n:
        raise ValueError(f"n_train={n_train} leaves no test nets among {n}")
    rng = np.random.default_rng(seed)
    train = np.zeros(n, dtype=bool)
    train[rng.choice(n, size=n_train, replace=False)] = True
    rows = []
    for model in MODELS:
        x = model_features(scores, model)
        if x is None:
            continue
        forest = RandomForestRegressor(random_state=seed, **(rf or {}))
        forest.fit(x[train].to_numpy(), logit(acc[train]))
        pred = forest.predict(x[~train].to_numpy())
        row = evaluate(pred, acc[~train], seed=seed, ndcg_k=ndcg_k)
        rows.append({"method": model, "type": "A", "n_nets": int((~train).sum()), "n_train": n_train,
                     "n_features": x.shape[1], **row})
    return rows


def run_model_metrics(scores_path: str | Path, benchmark_path: str | Path, out: str | Path, *, dataset: str,
                      seed: int, n_train: int, ndcg_k: int, rf: dict | None = None) -> pd.DataFrame:
    scores = read_parquet(scores_path, ("arch_str", "is_unique"))
    df, acc_col = with_accuracy(scores, benchmark_path, dataset)
    rows = []
    for subset, part in collections(df).items():
        part = part.reset_index(drop=True)
        for r in fit_and_evaluate(part, part[acc_col].to_numpy(), seed=seed, n_train=n_train, ndcg_k=ndcg_k, rf=rf):
            rows.append({**r, "dataset": dataset, "seed": seed, "subset": subset, "table": "main",
                         "input": "-", "batch_size": "-"})
    result = pd.DataFrame(rows)
    write_parquet(result, out)
    return result
