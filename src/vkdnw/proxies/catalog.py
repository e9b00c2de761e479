"""The proxy groups as the workflow plans them, read without importing a group's code.

Planning the DAG (``snakemake -n``, on a login node) needs each group's name and version (the
scoring rule's params) and whether it reads images or runs in float64 (its settings), never
its code, which needs torch. So this module reads them from the literal arguments of each
group module's ``@register_proxy(...)`` decorator (Python's ``ast``). A group stays one module:
:mod:`vkdnw.proxies.registry` imports the same modules to score, and a test checks that both
read the same names, versions and flags.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vkdnw.layout import find_file

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
PROXY_DIR = Path(__file__).resolve().parent
# The arguments the workflow plans with; they must be literals in the decorator.
PLANNED = ("version", "paper_input", "float64", "settings", "ranks", "component_ranks", "default_run",
           "ablation_only")
# Python files of proxy groups outside this package (``os.pathsep``-separated): the workflow's
# ``proxy_modules`` sets it, so the DAG and every job (which inherits it) see the same groups.
MODULES_ENV = "VKDNW_PROXY_MODULES"
# The paper's batch for every zero-cost proxy: a group that declares no settings of its own
# takes this batch, its paper input and float32 (``zero_cost_defaults``).
ZERO_COST_BATCH_SIZE = 64


def zero_cost_defaults(paper_input: str | None, float64: bool) -> dict[str, Any]:
    """The settings of a group that declares none: the paper's batch, the input the paper fed
    it (``real`` images or ``random`` noise) and, where it can run in float64, float32 (the
    reference's precision)."""
    return {"batch_size": ZERO_COST_BATCH_SIZE, **({"input": paper_input} if paper_input else {}),
            **({"dtype": "float32"} if float64 else {})}


def settings_defaults(settings: dict[str, Any] | str | None, paper_input: str | None, float64: bool,
                      lookup: Any) -> dict[str, Any]:
    """A group's configurable settings with their defaults, from its ``register_proxy``
    ``settings=``: a dict of them, the name of another group whose settings it shares
    (``lookup(name)`` gives them), or None for the zero-cost defaults."""
    if settings is None:
        return zero_cost_defaults(paper_input, float64)
    if isinstance(settings, str):
        return dict(lookup(settings))
    if not isinstance(settings, dict):
        raise ValueError(f"settings must be a dict of defaults, a group name or None, got {settings!r}")
    return dict(settings)


def job_keys(settings: dict[str, Any], paper_input: str | None) -> tuple[str, ...]:
    """The keys of a scoring job's block of settings (``--settings``): the configurable ones,
    with ``input`` resolved to ``data`` (the dataset folder, or null for noise)."""
    return (*(k for k in settings if k != "input"), *(("data",) if paper_input else ()))


@dataclass(frozen=True)
class GroupInfo:
    name: str
    version: int
    paper_input: str | None
    float64: bool
    default_run: bool
    ablation_only: bool
    module: Path
    # The configurable settings and their defaults (``settings_defaults``).
    settings: dict[str, Any]
    # The group whose settings (defaults and config) it shares, if any: Table 5's real-input
    # VKDNW computes what VKDNW does, on other input.
    shares: str | None = None
    # Its single ranking methods, name -> score column (higher is better): the table rows, and
    # the ones that only feed aggregates.
    ranks: dict[str, str] = field(default_factory=dict)
    component_ranks: dict[str, str] = field(default_factory=dict)

    @property
    def job_keys(self) -> tuple[str, ...]:
        return job_keys(self.settings, self.paper_input)


def _literal(node: ast.expr, what: str, path: Path) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ValueError(f"{path.name}: register_proxy's {what} must be a literal (the workflow reads it "
                         "without importing the module)") from None


def module_groups(path: Path) -> list[GroupInfo]:
    """The groups a module registers, from its ``register_proxy(...)`` calls."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        func = getattr(node, "func", None)
        if not (isinstance(node, ast.Call) and getattr(func, "id", getattr(func, "attr", None)) == "register_proxy"):
            continue
        kw = {k.arg: k.value for k in node.keywords}
        if not node.args or "version" not in kw:
            raise ValueError(f"{path.name}: register_proxy needs the group's name and version=")
        args = {k: _literal(kw[k], k, path) for k in PLANNED if k in kw}
        # ``settings`` stays raw here: a group name is resolved once every module is read.
        out.append(GroupInfo(_literal(node.args[0], "name", path), args["version"], args.get("paper_input"),
                             bool(args.get("float64", False)), bool(args.get("default_run", False)),
                             bool(args.get("ablation_only", False)), path, args.get("settings"),
                             ranks=dict(args.get("ranks") or {}), component_ranks=dict(args.get("component_ranks") or {})))
    return out


def extra_modules() -> list[Path]:
    """The proxy modules outside this package that this process uses (:data:`MODULES_ENV`)."""
    return [Path(p) for p in os.environ.get(MODULES_ENV, "").split(os.pathsep) if p]


def use_modules(paths: list[str], base: str | None = None) -> list[Path]:
    """Make the groups of ``paths`` (Python files; relative to the working directory, else to
    ``base``, the workflow's folder) known to this process and the processes it starts."""
    resolved = [find_file(p, base, "proxy_modules").resolve() for p in paths]
    os.environ[MODULES_ENV] = os.pathsep.join(str(p) for p in resolved)
    catalog.cache_clear()
    return resolved


@functools.lru_cache(maxsize=None)
def catalog() -> dict[str, GroupInfo]:
    """Every group by name: this package's modules, then :func:`extra_modules`."""
    groups: dict[str, GroupInfo] = {}
    for path in [*sorted(PROXY_DIR.glob("*.py")), *extra_modules()]:
        for g in module_groups(path):
            if g.name in groups:
                raise ValueError(f"proxy {g.name!r} registered twice ({groups[g.name].module.name}, {path.name})")
            groups[g.name] = g
    for name, g in groups.items():
        if not isinstance(g.settings, str):
            groups[name] = replace(g, settings=settings_defaults(g.settings, g.paper_input, g.float64, None))
    for name, g in groups.items():  # groups that share another's settings, now resolved
        if isinstance(g.settings, str):
            groups[name] = replace(g, settings=dict(group_from(groups, g.settings).settings), shares=g.settings)
    return groups


def group_from(groups: dict[str, GroupInfo], name: str) -> GroupInfo:
    try:
        return groups[name]
    except KeyError:
        raise ValueError(f"unknown proxy {name!r}; registered: {sorted(groups)}") from None


def group(name: str) -> GroupInfo:
    return group_from(catalog(), name)


def group_names() -> list[str]:
    return sorted(catalog())


def default_run() -> list[str]:
    """The groups a config that names none scores."""
    return [n for n, g in sorted(catalog().items()) if g.default_run]


def proxy_version(name: str) -> str:
    """What the scoring rule's params carry of a group's code: its name and declared version."""
    return f"{name} v{group(name).version}"


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
    """SHA-256 over package files (paths relative to the package root), for the MBV2 rules'
    params: Snakemake never tracks imported modules, so a change to any of them must show
    there. (The NB201 proxy groups declare versions instead.) Only the files' code counts, not
    their names or places, so that moving a module reruns nothing."""
    h = hashlib.sha256()
    for digest in sorted(hashlib.sha256(code_digest(PACKAGE_ROOT / rel)).digest() for rel in sources):
        h.update(digest)
    return h.hexdigest()[:16]
