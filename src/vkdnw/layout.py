"""The results layout: where every stage's files live under a run's ``results`` folder.

One module builds the paths, for ``rules/common.smk`` (which passes ``"{dataset}"`` and the
like, Snakemake's wildcards) and for the package alike (reused blocks, committed scores,
surrogate images). Nothing reads a name back out of a path: each rule tells its command what
a file is (``DATASET=PATH``, ``PROXY=PATH``; :func:`labelled`). It also finds the files a
config names (:func:`find_file`).
"""

from __future__ import annotations

from pathlib import Path


def nb201(results: str | Path) -> str:
    """The NAS-Bench-201 part of a results folder."""
    return f"{results}/nb201"


def run(results: str | Path, dataset: str, seed: int | str) -> str:
    """One (dataset, seed) run: its blocks, merged scores, ranks and metrics."""
    return f"{nb201(results)}/{dataset}/seed{seed}"


def block(run_dir: str | Path, proxy: str, block: str) -> str:
    """One scoring job's output in a run's folder (:func:`run` or :func:`ablation_run`):
    ``block`` is the zero-padded block number (``007``)."""
    return f"{run_dir}/scores/{proxy}/block{block}.parquet"


def run_blocks(run_dir: str | Path, proxy: str) -> list[Path]:
    """The blocks of one group that a run's folder holds."""
    pattern = Path(block(run_dir, proxy, "*"))
    return sorted(pattern.parent.glob(pattern.name))


def scores(run_dir: str | Path) -> str:
    """A run's merged scores (:func:`run` or :func:`ablation_run`)."""
    return f"{run_dir}/scores.parquet"


def ablation_run(results: str | Path, setting: str, dataset: str, seed: int | str) -> str:
    """One ablation run (Tables 5/8/9): a VKDNW setting's own scoring run."""
    return f"{nb201(results)}/ablations/{setting}/{dataset}/seed{seed}"


def surrogate(results: str | Path, dataset: str) -> str:
    """The surrogate image folder the workflow writes for a dataset (``surrogate_data``)."""
    return f"{nb201(results)}/data/surrogate/{dataset}"


def mbv2(results: str | Path) -> str:
    """The MobileNetV2 part (Table 2)."""
    return f"{results}/mbv2"


def labelled(pairs: list[tuple[str, str]]) -> str:
    """``LABEL=PATH`` arguments: how a rule tells a command what each input file is."""
    return " ".join(f"{label}={path}" for label, path in pairs)


def parse_labelled(items: list[str], what: str) -> list[tuple[str, str]]:
    """The ``LABEL=PATH`` arguments of a command, in order; a bare path is a one-line error."""
    out = []
    for item in items:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            raise ValueError(f"expected {what}=PATH, got {item!r}")
        out.append((label, path))
    return out


def find_file(path: str, base: str | None, key: str) -> Path:
    """A file a config key names (``reuse_scores``, ``proxy_modules``): relative to the working
    directory, else to ``base``, the workflow's folder (where the shipped configs live), so a
    run in another directory still finds it; else a one-line error naming the key."""
    for candidate in (Path(path), *((Path(base) / path,) if base else ())):
        if candidate.is_file():
            return candidate
    raise ValueError(f"{key}: {path} does not exist")
