"""Planning: what the workflow decides before any job runs, with no torch, scipy or sklearn.

Which nets a run scores and how they are cut into blocks, and the settings each proxy group's
scoring jobs get (the part of the config its numbers depend on, so that Snakemake reruns exactly
the jobs a config change affects). ``rules/common.smk`` builds the DAG from this module, so
``snakemake -n`` runs on a login node without the ML stack.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import numpy as np

from vkdnw.proxies.catalog import group, group_names
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


# Groups with settings of their own (the first branches of proxy_settings); every other group
# is a zero-cost group and reads the `zero_cost` block.
OWN_SETTINGS = frozenset({"size", "vkdnw", "vkdnw_real"})


def proxy_settings(cfg: dict[str, Any], proxy: str, dataset: str | None = None) -> dict[str, Any]:
    """The settings a proxy group's numbers depend on (and nothing else, for invalidation).

    ``size`` has none and ``vkdnw`` its own block. Every other group gets the zero-cost batch
    size and, where it reads real images on ``dataset``, that dataset's folder, so that
    pointing the config at a dataset reruns exactly the proxies that read it.
    """
    spec = group(proxy)
    if proxy == "size":
        return {}
    if proxy == "vkdnw":
        return {"vkdnw": cfg.get("vkdnw", {})}
    if proxy == "vkdnw_real":  # Table 5's real-input VKDNW: the VKDNW settings plus the images
        return {proxy: {**cfg.get("vkdnw", {}), "data": data_folder(cfg, dataset)}}
    zc = cfg.get("zero_cost", {})
    mode = zc.get("input", "paper")
    reads_data = spec.paper_input is not None and (mode == "real" or (mode == "paper" and spec.paper_input == "real"))
    data = data_folder(cfg, dataset) if reads_data else None
    return {proxy: zero_cost_entry(zero_cost_batch(cfg, dataset, proxy), data, zero_cost_dtype(cfg, dataset, proxy))}


def zero_cost_entry(batch_size: int, data: str | None, dtype: str = "float32") -> dict[str, Any]:
    """A zero-cost group's settings. float32 adds no ``dtype`` key: blocks scored before the
    key existed keep the settings (and so the params) they were made with."""
    return {"batch_size": batch_size, "data": data, **({"dtype": dtype} if dtype != "float32" else {})}


def zero_cost_batch(cfg: dict[str, Any], dataset: str | None, proxy: str) -> int:
    """The batch size of zero-cost group ``proxy`` on ``dataset``: ``zero_cost.dataset_batch_size``
    where it names both, else ``zero_cost.batch_size``. A group or dataset it does not name
    keeps the settings (and so the scores) it had before the key existed."""
    zc = cfg.get("zero_cost", {})
    by_dataset = zc.get("dataset_batch_size", {}).get(dataset, {})
    return int(by_dataset.get(proxy, zc.get("batch_size", 64)))


def zero_cost_dtype(cfg: dict[str, Any], dataset: str | None, proxy: str) -> str:
    """The float precision of zero-cost group ``proxy`` on ``dataset``: ``zero_cost.dataset_dtype``
    where it names both, else ``zero_cost.dtype``, else float32 (the reference's)."""
    zc = cfg.get("zero_cost", {})
    by_dataset = zc.get("dataset_dtype", {}).get(dataset, {})
    return str(by_dataset.get(proxy, zc.get("dtype", {}).get(proxy, "float32")))


def check_zero_cost_overrides(cfg: dict[str, Any]) -> None:
    """``zero_cost.dataset_batch_size`` may name only zero-cost groups, and ``zero_cost.dtype``
    and ``dataset_dtype`` only the groups that can run in float64 (the schema checks the
    datasets and values; the groups are the registry's): a typo would otherwise be silently
    ignored."""
    zc = cfg.get("zero_cost", {})
    allowed = set(group_names()) - OWN_SETTINGS
    float64 = {p for p in allowed if group(p).float64}
    named = [(f"dataset_batch_size.{d}", g, allowed) for d, g in zc.get("dataset_batch_size", {}).items()]
    named += [("dtype", zc.get("dtype", {}), float64)]
    named += [(f"dataset_dtype.{d}", g, float64) for d, g in zc.get("dataset_dtype", {}).items()]
    for key, groups, ok in named:
        unknown = sorted(set(groups) - ok)
        if unknown:
            what = "zero-cost proxy groups" if ok is allowed else "zero-cost groups with a float64 path"
            raise ValueError(f"zero_cost.{key}: {unknown} are not {what}; those are {sorted(ok)}")


def surrogate_folder(cfg: dict[str, Any], dataset: str) -> str:
    """Where the workflow writes a dataset's surrogate images (see ``surrogate_data``)."""
    return f"{cfg['results']}/nb201/data/surrogate/{dataset}"


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
    from vkdnw.config import load_config

    return load_config(path)


def _config_path(path: str, base: str | None) -> str:
    """A ``reuse_scores`` entry: relative to the working directory, else to the workflow's
    folder (where the shipped configs live), so a run in another directory still finds it."""
    for candidate in (Path(path), *((Path(base) / path,) if base else ())):
        if candidate.is_file():
            return str(candidate)
    raise ValueError(f"reuse_scores: {path} does not exist")


def reuse_roots(cfg: dict[str, Any], proxy: str, dataset: str, seed: int, base: str | None = None) -> list[str]:
    """The results trees of the ``reuse_scores`` runs a scoring job may take rows from: those
    that scored this group on this dataset and seed with the same settings. (The job itself
    checks each block's recorded version and settings, :func:`vkdnw.scoring.reuse_rows`.)"""
    if not cfg.get("reuse_scores"):  # the common case: called for every scoring job of the DAG
        return []
    mine = proxy_settings(cfg, proxy, dataset)
    roots = []
    for path in cfg["reuse_scores"]:
        other = _other_config(_config_path(path, base))
        groups = other["dataset_proxies"].get(dataset, other["proxies"])
        if (dataset in other["datasets"] and int(seed) in other["seeds"] and proxy in groups
                and proxy_settings(other, proxy, dataset) == mine and other["results"] != cfg["results"]):
            roots.append(other["results"])
    return roots
