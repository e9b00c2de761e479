"""Proxy registry: each proxy group registers a scoring function with a decorator.

A proxy group is the unit of a scoring job: one function that scores one net and returns
several columns. Each group declares a ``version``: the scoring rule's params hold the
group's name, version and settings, so Snakemake reruns a group's blocks when its version
or settings change and never because its code was merely reorganised. A change that moves a
group's numbers must bump its version; ``tests/test_reference.py``, which rescores committed
nets, fails where a bump was forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch


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
    # Bumped by every change that moves the group's numbers (the scoring rule's params).
    version: int
    columns: tuple[str, ...]
    # Input the paper fed this proxy: "real" images, "random" noise, or None (no input).
    paper_input: str | None = None
    # Whether it honours a ``dtype: float64`` setting (``zero_cost.dtype``); the others
    # always compute in float32, and the config check rejects naming them.
    float64: bool = False
    # The keys its block of a job's settings may hold: anything else is a typo that would
    # otherwise score silently at the defaults.
    settings: tuple[str, ...] = ()
    # Scored by a config that names no groups (`proxies` unset).
    default_run: bool = False
    # Scored only by the ablation runs (Table 5's real-input VKDNW), never a run's own group.
    ablation_only: bool = False


_REGISTRY: dict[str, ProxySpec] = {}


# A zero-cost group's settings (vkdnw.proxies.zc): images per net, a dataset folder, precision.
ZERO_COST_SETTINGS = ("batch_size", "data", "dtype")


def register_proxy(name: str, *, version: int, columns: tuple[str, ...], paper_input: str | None = None,
                   float64: bool = False, settings: tuple[str, ...] = ZERO_COST_SETTINGS, default_run: bool = False,
                   ablation_only: bool = False):
    """Register a proxy group. ``version`` is bumped by every change that moves its numbers
    (code it calls included: the search space, the init, the input); ``columns`` are the
    score columns the function returns; ``paper_input`` is ``"real"`` where the paper fed it
    real images (it then reads the configured dataset); ``float64`` says it can run its net
    in float64 (the ``dtype`` setting); ``settings`` are the keys its settings block accepts;
    ``default_run``: a config that names no groups scores it; ``ablation_only``: only the
    ablation runs score it."""
    if paper_input not in (None, "real", "random"):
        raise ValueError(f"paper_input must be None, 'real' or 'random', got {paper_input!r}")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"proxy {name!r}: version must be a positive integer, got {version!r}")

    def deco(fn: ProxyFn) -> ProxyFn:
        if name in _REGISTRY:
            raise ValueError(f"proxy {name!r} registered twice")
        _REGISTRY[name] = ProxySpec(name, fn, version, tuple(columns), paper_input, float64, tuple(settings),
                                    default_run, ablation_only)
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


def check_settings(name: str, settings: dict[str, Any]) -> None:
    """Reject settings a ``name`` job would silently ignore: a block for another group, a key
    outside any group's block (settings nest by group) or a key the group does not know."""
    spec = get_proxy(name)
    example = f'{{"{name}": {{"{spec.settings[0]}": ...}}}}' if spec.settings else "{}"
    for group, block in settings.items():
        if group != name:
            where = "another proxy group" if group in _REGISTRY else "not a proxy group"
            raise ValueError(f"settings key {group!r} is {where}; a {name} job's settings are {example}")
        if not isinstance(block, dict):
            raise ValueError(f"settings of {name} must be an object, e.g. {example}")
        unknown = sorted(set(block) - set(spec.settings))
        if unknown:
            known = ", ".join(spec.settings) or "none"
            raise ValueError(f"{name} has no setting {unknown[0]!r} (its settings: {known})")


def list_proxies() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def proxy_version(name: str) -> str:
    """What the scoring rule's params carry of a group's code: its name and declared version
    (the same string :func:`vkdnw.proxies.catalog.proxy_version` reads without importing it)."""
    spec = get_proxy(name)
    return f"{spec.name} v{spec.version}"
