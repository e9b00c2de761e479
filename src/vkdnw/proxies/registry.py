"""Proxy registry: each proxy group registers a scoring function with a decorator.

A proxy group is the unit of a scoring job: one function that scores one net and returns
several columns. Each group declares a ``version``: the scoring rule's params hold the
group's name, version and settings, so Snakemake reruns a group's blocks when its version
or settings change and never because its code was merely reorganised. A change that moves a
group's numbers must bump its version; ``tests/test_reference.py``, which rescores committed
nets, fails where a bump was forgotten.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from vkdnw.proxies.catalog import extra_modules, job_keys, settings_defaults


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

    def group_settings(self, name: str) -> dict[str, Any]:
        """Group ``name``'s registered defaults (the paper's), overridden by its block of the
        job's settings: what every group reads its batch, precision and the like from."""
        return {**get_proxy(name).settings, **self.settings.get(name, {})}


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
    # Whether it honours a ``dtype: float64`` setting; the others always compute in float32,
    # and the config check rejects giving them one.
    float64: bool = False
    # Its configurable settings with their defaults: the one place a group's defaults live
    # (the config's ``settings.<group>`` overrides them key by key).
    settings: dict[str, Any] = field(default_factory=dict)
    # Scored by a config that names no groups (`proxies` unset).
    default_run: bool = False
    # Scored only by the ablation runs (Table 5's real-input VKDNW), never a run's own group.
    ablation_only: bool = False
    # Its single ranking methods, name -> score column (higher is better): rows of Tables 1/6,
    # and the ones that only feed aggregates (AZ-NAS's and TE-NAS's parts).
    ranks: dict[str, str] = field(default_factory=dict)
    component_ranks: dict[str, str] = field(default_factory=dict)

    @property
    def job_keys(self) -> tuple[str, ...]:
        """The keys its block of a job's settings may hold: anything else is a typo that would
        otherwise score silently at the defaults."""
        return job_keys(self.settings, self.paper_input)


_REGISTRY: dict[str, ProxySpec] = {}


def register_proxy(name: str, *, version: int, columns: tuple[str, ...], paper_input: str | None = None,
                   float64: bool = False, settings: dict[str, Any] | str | None = None,
                   ranks: dict[str, str] | None = None, component_ranks: dict[str, str] | None = None,
                   default_run: bool = False, ablation_only: bool = False):
    """Register a proxy group. ``version`` is bumped by every change that moves its numbers
    (code it calls included: the search space, the init, the input); ``columns`` are the
    score columns the function returns; ``paper_input`` is ``"real"`` where the paper fed it
    real images, ``"random"`` where noise (the default of its ``input`` setting); ``float64``
    says it can run its net in float64 (the ``dtype`` setting); ``settings``: its configurable
    settings with their defaults, another group's name to share that group's, or None for
    the zero-cost ones (the paper's batch, input and float32;
    :func:`vkdnw.proxies.catalog.zero_cost_defaults`); ``ranks``: its single ranking methods as
    table rows, method name -> score column, higher better (``component_ranks``: the same for
    methods that only feed aggregates); ``default_run``: a config that names
    no groups scores it; ``ablation_only``: only the ablation runs score it. The workflow
    reads these arguments without importing the module, so they must be literals."""
    if paper_input not in (None, "real", "random"):
        raise ValueError(f"paper_input must be None, 'real' or 'random', got {paper_input!r}")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"proxy {name!r}: version must be a positive integer, got {version!r}")

    def deco(fn: ProxyFn) -> ProxyFn:
        if name in _REGISTRY:
            raise ValueError(f"proxy {name!r} registered twice")
        defaults = settings_defaults(settings, paper_input, float64, _registered_settings)
        _REGISTRY[name] = ProxySpec(name, fn, version, tuple(columns), paper_input, float64, defaults,
                                    default_run, ablation_only, dict(ranks or {}), dict(component_ranks or {}))
        return fn

    return deco


def _registered_settings(name: str) -> dict[str, Any]:
    # A group that shares another's settings registers after it (its module imports that one).
    if name not in _REGISTRY:
        raise ValueError(f"settings={name!r}: register that group first")
    return _REGISTRY[name].settings


_LOADED: set[Path] = set()


def _load_builtin() -> None:
    # Importing the modules runs their decorators: every module of this package (as the catalog
    # reads every one), so that a new group is its module and nothing else.
    import vkdnw.proxies as package

    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"vkdnw.proxies.{info.name}")

    for path in extra_modules():  # a workflow's `proxy_modules`: imported once by file path
        if path not in _LOADED:
            _LOADED.add(path)
            spec = importlib.util.spec_from_file_location(f"vkdnw_proxy_module_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)


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
    keys = spec.job_keys
    example = f'{{"{name}": {{"{keys[0]}": ...}}}}' if keys else "{}"
    for group, block in settings.items():
        if group != name:
            where = "another proxy group" if group in _REGISTRY else "not a proxy group"
            raise ValueError(f"settings key {group!r} is {where}; a {name} job's settings are {example}")
        if not isinstance(block, dict):
            raise ValueError(f"settings of {name} must be an object, e.g. {example}")
        unknown = sorted(set(block) - set(keys))
        if unknown:
            known = ", ".join(keys) or "none"
            raise ValueError(f"{name} has no setting {unknown[0]!r} (its settings: {known})")


def list_proxies() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def proxy_version(name: str) -> str:
    """What the scoring rule's params carry of a group's code: its name and declared version
    (the same string :func:`vkdnw.proxies.catalog.proxy_version` reads without importing it)."""
    spec = get_proxy(name)
    return f"{spec.name} v{spec.version}"
