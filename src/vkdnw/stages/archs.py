"""The run's inputs besides the scores: the NB201 arch table, and the surrogate image folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from vkdnw.io import write_parquet
from vkdnw.plan import surrogate_read
from vkdnw.spaces import nb201


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
