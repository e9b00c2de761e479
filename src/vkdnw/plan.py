"""Planning: what the workflow decides before any job runs, with no torch, scipy or sklearn.

Which nets a run scores and how they are cut into blocks, and the settings each proxy group's
scoring jobs get (the part of the config its numbers depend on, so that Snakemake reruns exactly
the jobs a config change affects). ``rules/common.smk`` builds the DAG from this module, so
``snakemake -n`` runs on a login node without the ML stack.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from vkdnw import layout
from vkdnw.config import load_config
from vkdnw.proxies.catalog import group
from vkdnw.spaces import nb201


def select_archs(subset: str = "all", n_archs: int | None = None, sample_seed: int = 0) -> list[str]:
    """The archs a run scores, in enumeration order.

    ``subset`` is ``all`` (15,625) or ``unique`` (9,445); ``n_archs`` draws a fixed random
    sample of that many (for quick runs), seeded by ``sample_seed``.
    """
    archs = list(nb201.all_archs())
    if subset == "unique":
        archs = [a for a in archs if nb201.is_unique(a)]
    elif subset != "all":
        raise ValueError(f"subset must be 'all' or 'unique', got {subset!r}")
    if n_archs is not None and n_archs < len(archs):
        rng = np.random.default_rng(sample_seed)
        keep = np.sort(rng.choice(len(archs), size=n_archs, replace=False))
        archs = [archs[i] for i in keep]
    return archs


def n_blocks(n: int, block_size: int) -> int:
    return max(1, math.ceil(n / block_size))


def block_archs(archs: list[str], block: int, block_size: int) -> list[str]:
    if not 0 <= block < n_blocks(len(archs), block_size):
        raise ValueError(f"block {block} out of range for {len(archs)} archs of {block_size} per block")
    return archs[block * block_size : (block + 1) * block_size]


def run_groups(cfg: dict[str, Any], dataset: str) -> list[str]:
    """The proxy groups a run scores on ``dataset``: its ``per_dataset`` overlay's, else
    ``proxies``."""
    return list(cfg.get("per_dataset", {}).get(dataset, {}).get("proxies") or cfg["proxies"])


def group_settings(cfg: dict[str, Any], proxy: str, dataset: str | None = None) -> dict[str, Any]:
    """The settings of group ``proxy`` on ``dataset``, resolved in one place: the group's
    registered defaults (the paper's), then the config's ``settings.<group>``, then the
    dataset's overlay ``per_dataset.<dataset>.settings.<group>``, key by key."""
    spec = group(proxy)
    name = spec.shares or proxy  # a group that shares another's settings reads its config too
    out = dict(spec.settings)
    out.update(cfg.get("settings", {}).get(name) or {})
    if dataset:
        out.update(cfg.get("per_dataset", {}).get(dataset, {}).get("settings", {}).get(name) or {})
    return out


def proxy_settings(cfg: dict[str, Any], proxy: str, dataset: str | None = None) -> dict[str, Any]:
    """A scoring job's settings: what the group's numbers depend on and nothing else (the
    rule's params, so Snakemake reruns exactly the blocks a config change affects).

    The group's resolved settings (:func:`group_settings`), with ``input: real`` turned into the
    dataset's folder (``data``; null for noise), so that pointing the config at a dataset reruns
    exactly the groups that read it. A zero-cost group's float32 adds no ``dtype`` key: blocks
    scored before the key existed keep the params they were made with.
    """
    spec = group(proxy)
    s = group_settings(cfg, proxy, dataset)
    if not s:
        return {}
    if "input" in s or spec.paper_input:
        reads = s.pop("input", spec.paper_input) == "real"
        s["data"] = data_folder(cfg, dataset) if reads else None
    if s.get("dtype") == "float32":
        del s["dtype"]
    return {proxy: s}


# The resolved settings each score row records beside the ``input`` it was fed (where the
# group has them): the tables' batch column reads them from the scores.
ROW_SETTINGS = ("batch_size", "dtype")


def recorded_settings(proxy: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The batch size and precision a ``proxy`` job with these settings scores at: its block
    of the job's settings over the group's registered defaults, for the keys the group has."""
    s = {**group(proxy).settings, **settings.get(proxy, {})}
    return {k: s[k] for k in ROW_SETTINGS if k in s}


def zero_cost_entry(batch_size: int, data: str | None, dtype: str = "float32") -> dict[str, Any]:
    """A zero-cost group's block of a job's settings, as :func:`proxy_settings` writes it (for
    the tools that score without a config)."""
    return {"batch_size": batch_size, "data": data, **({"dtype": dtype} if dtype != "float32" else {})}


def surrogate_folder(cfg: dict[str, Any], dataset: str) -> str:
    """Where the workflow writes a dataset's surrogate images (see ``surrogate_data``)."""
    return layout.surrogate(cfg["results"], dataset)


def surrogate_read(cfg: dict[str, Any], settings: dict[str, Any], dataset: str) -> str | None:
    """The surrogate folder a scoring job with these proxy settings reads, if any."""
    folder = surrogate_folder(cfg, dataset)
    return folder if any(s.get("data") == folder for s in settings.values()) else None


def data_folder(cfg: dict[str, Any], dataset: str | None) -> str | None:
    """The training-image folder the image-reading proxies get on ``dataset``: the
    configured one, else the surrogate folder where ``surrogate_data`` is enabled, else
    None (noise)."""
    if not dataset:
        return None
    path = cfg.get("data", {}).get(dataset)
    if path:
        return path
    if cfg.get("surrogate_data", {}).get("enabled"):
        return surrogate_folder(cfg, dataset)
    return None


@functools.lru_cache(maxsize=None)
def _other_config(path: str) -> dict[str, Any]:
    return load_config(path)


def reuse_roots(cfg: dict[str, Any], proxy: str, dataset: str, seed: int, base: str | None = None) -> list[str]:
    """The results trees of the ``reuse_scores`` runs a scoring job may take rows from: those
    that scored this group on this dataset and seed with the same settings. (The job itself
    checks each block's recorded version and settings, :func:`vkdnw.stages.scoring.reuse_rows`.)"""
    if not cfg.get("reuse_scores"):  # the common case: called for every scoring job of the DAG
        return []
    mine = proxy_settings(cfg, proxy, dataset)
    roots = []
    for path in cfg["reuse_scores"]:
        other = _other_config(str(layout.find_file(path, base, "reuse_scores")))
        if (dataset in other["datasets"] and int(seed) in other["seeds"] and proxy in run_groups(other, dataset)
                and proxy_settings(other, proxy, dataset) == mine and other["results"] != cfg["results"]):
            roots.append(other["results"])
    return roots
