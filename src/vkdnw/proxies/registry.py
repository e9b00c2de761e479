"""Proxy registry: each proxy group registers a scoring function with a decorator.

A proxy group is the unit of a scoring job: one function that scores one net and returns
several columns. The registry also knows which source files a group's numbers depend on,
so that the workflow can rerun exactly that group's shards when its code changes.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
# Modules every proxy's numbers depend on: the search space and the per-net random state.
COMMON_SOURCES = ("spaces/nb201.py", "rng.py", "proxies/common.py")


@dataclass(frozen=True)
class NetContext:
    """Everything a proxy may use to score one net; the random state is derived from it."""

    arch_str: str
    dataset: str
    seed: int
    num_classes: int
    resolution: int
    settings: dict[str, Any]
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))


ProxyFn = Callable[[NetContext], dict[str, float]]


@dataclass(frozen=True)
class ProxySpec:
    name: str
    fn: ProxyFn
    columns: tuple[str, ...]
    sources: tuple[str, ...]  # paths relative to the package root
    # Input the paper fed this proxy: "real" images, "random" noise, or None (no input).
    paper_input: str | None = None
    # Whether it honours a ``dtype: float64`` setting (``zero_cost.dtype``); the others
    # always compute in float32, and the config check rejects naming them.
    float64: bool = False


_REGISTRY: dict[str, ProxySpec] = {}


def register_proxy(name: str, *, columns: tuple[str, ...], extra_sources: tuple[str, ...] = (),
                   paper_input: str | None = None, float64: bool = False):
    """Register a proxy group. ``columns`` are the score columns the function returns;
    ``extra_sources`` are further package files its numbers depend on; ``paper_input`` is
    ``"real"`` where the paper fed it real images (it then reads the configured dataset);
    ``float64`` says it can run its net in float64 (the ``dtype`` setting)."""
    if paper_input not in (None, "real", "random"):
        raise ValueError(f"paper_input must be None, 'real' or 'random', got {paper_input!r}")

    def deco(fn: ProxyFn) -> ProxyFn:
        if name in _REGISTRY:
            raise ValueError(f"proxy {name!r} registered twice")
        own = Path(inspect.getfile(fn)).resolve().relative_to(PACKAGE_ROOT).as_posix()
        sources = tuple(sorted({own, *extra_sources, *COMMON_SOURCES}))
        _REGISTRY[name] = ProxySpec(name, fn, tuple(columns), sources, paper_input, float64)
        return fn

    return deco


def _load_builtin() -> None:
    # Importing the modules runs their decorators.
    from vkdnw.proxies import (  # noqa: F401
        aznas, gradnorm, grasp, jacov, naswot, size, snip, synflow, tenas, vkdnw, vkdnw_real, zen, zico)


def get_proxy(name: str) -> ProxySpec:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown proxy {name!r}; registered: {sorted(_REGISTRY)}") from None


def list_proxies() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def code_digest(path: Path) -> bytes:
    """What of a source file the numbers can depend on: a Python file's syntax tree without
    its docstrings (comments never reach the tree), any other file's bytes. A docstring or
    comment edit must not rerun hours of scoring."""
    st = path.stat()
    # Every scoring job's params ask for its proxy's hash while Snakemake builds the DAG
    # (thousands of jobs); parse each file once per version of it.
    return _code_digest(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=256)
def _code_digest(path_str: str, _mtime_ns: int, _size: int) -> bytes:
    path = Path(path_str)
    if path.suffix != ".py":
        return path.read_bytes()
    tree = ast.parse(path.read_text(), filename=path_str)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree).encode()


def files_hash(sources: tuple[str, ...] | list[str]) -> str:
    """SHA-256 over package files (paths relative to the package root), for rule params:
    Snakemake never tracks imported modules, so a change to any of them must show here."""
    h = hashlib.sha256()
    for rel in sorted(sources):
        h.update(rel.encode())
        h.update(code_digest(PACKAGE_ROOT / rel))
    return h.hexdigest()[:16]


def source_hash(name: str) -> str:
    """Hash of the source files a proxy group's numbers depend on. The scoring rule puts it
    in its ``params``, so a code change reruns only that group's shards."""
    return files_hash(get_proxy(name).sources)
