"""The workflow config: validated against ``config.schema.yaml``, defaults filled in.

Imports no torch, so that building the DAG (``snakemake -n``) stays light. Errors are one line
naming the key: Snakemake's own ``validate`` prints the whole schema around the message.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

SCHEMA = Path(__file__).with_name("config.schema.yaml")
# The longest message worth a terminal line; jsonschema sometimes quotes a whole instance.
_MAX_MESSAGE = 300


def load_schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA.read_text())


@functools.lru_cache(maxsize=1)
def _schema_for_lookup() -> dict[str, Any]:
    # Parsed once per process: building the CLI asks for about 15 defaults, and each parse of
    # the schema costs about 27 ms, which every rule job would pay at start-up.
    return load_schema()


def schema_default(*path: str) -> Any:
    """The schema's default of the config key at ``path`` (e.g. ``"block_size"``): the CLI
    takes its defaults from here, so that they live in one place."""
    node = _schema_for_lookup()
    for key in path:
        node = node["properties"][key]
    return node["default"]


def _fill_defaults(validate_properties):
    def fill(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(key, sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return fill


def _validator(schema: dict[str, Any]):
    # Imported here: the GPU machines run the package without jsonschema (no config to check).
    import jsonschema

    cls = jsonschema.validators.extend(
        jsonschema.Draft202012Validator,
        {"properties": _fill_defaults(jsonschema.Draft202012Validator.VALIDATORS["properties"])},
    )
    return cls(schema)


def coerce_strings(value: Any, schema: dict[str, Any]) -> Any:
    """Turn strings that only fit the schema once parsed as YAML into what they parse to.

    ``snakemake --config 'model_driven={"n_train": 100}'`` reads nested values with YAML's base
    loader, so every nested scalar arrives as a string ('100'). A string the schema accepts as
    it is stays a string.
    """
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            sub_schema = props.get(key, extra if isinstance(extra, dict) else None)
            if sub_schema is not None:
                value[key] = coerce_strings(sub, sub_schema)
        return value
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [coerce_strings(v, schema["items"]) for v in value]
    if isinstance(value, str):
        import jsonschema

        check = jsonschema.Draft202012Validator(schema)
        if not check.is_valid(value):
            try:
                parsed = yaml.safe_load(value)
            except yaml.YAMLError:
                return value
            if check.is_valid(parsed):
                return parsed
    return value


# Keys of the config's earlier shape (dotted paths), and what replaced them (one line each).
REPLACED = {
    "vkdnw": "settings: {vkdnw: {batch_size: ..., n_tensors: ...}}",
    "zero_cost": "settings: {<group>: {batch_size: ..., dtype: ..., input: real|random}}, "
                 "per dataset under per_dataset: {<dataset>: {settings: ...}}",
    "dataset_proxies": "per_dataset: {<dataset>: {proxies: [...]}}",
    # The paper's GRAF rows have the degree features; what they lack is min_path_len.
    "model_driven.graf_degree_features": "model_driven: {graf_full_features: true} for rows with all of "
                                         "nb201_full (the GRAF rows now have the degree features)",
}


def check_replaced_keys(cfg: dict[str, Any], source: str) -> None:
    for key, new in REPLACED.items():
        *parents, leaf = key.split(".")
        node: Any = cfg
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node:
            raise ValueError(f"{source}: config key {key!r} was replaced: write {new} (docs/configuration.md)")


def validate_config(cfg: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """Validate ``cfg`` in place (filling defaults); a bad key or value is a one-line ValueError."""
    import jsonschema

    check_replaced_keys(cfg, source)
    schema = load_schema()
    coerce_strings(cfg, schema)
    try:
        _validator(schema).validate(cfg)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        message = " ".join(exc.message.split())
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        raise ValueError(f"{source}: invalid config at {where}: {message}") from None
    _resolve_groups(cfg, source)
    return cfg


def _resolve_groups(cfg: dict[str, Any], source: str) -> None:
    """Proxy-group names are the registry's, not the schema's: check every name the config
    gives (one line for an unknown one), the settings blocks included, and fill the defaults
    that name groups."""
    from vkdnw.paper import TABLE1_ZERO_COST_GROUPS
    from vkdnw.proxies.catalog import default_run, group, group_names

    if "proxies" not in cfg:
        cfg["proxies"] = default_run()
    md = cfg.get("model_driven", {})
    if md.get("zcs_required", "absent") is None:
        md["zcs_required"] = list(TABLE1_ZERO_COST_GROUPS)
    named = [("proxies", cfg["proxies"]),
             *((f"per_dataset/{d}/proxies", o["proxies"]) for d, o in cfg.get("per_dataset", {}).items() if "proxies" in o),
             ("model_driven/zcs_required", md.get("zcs_required") or [])]
    known = [g for g in group_names() if not group(g).ablation_only]
    for where, groups in named:
        unknown = [g for g in groups if g not in known]
        if unknown:
            what = "a group only the ablations score" if unknown[0] in group_names() else "unknown proxy group"
            raise ValueError(f"{source}: invalid config at {where}: {what} {unknown[0]!r}; "
                             f"a run's groups: {', '.join(known)}")
    try:
        check_settings(cfg)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    cfg = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: a config is a YAML mapping of keys, got {type(cfg).__name__}")
    return cfg


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` over ``base``, mappings key by key and anything else replaced: what Snakemake
    does with ``--configfile`` over the Snakefile's ``configfile:``."""
    out = dict(base)
    for key, value in update.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def base_config_path() -> Path | None:
    """The workflow's ``config.yaml`` (the Snakefile's ``configfile:``): in the working
    directory, as Snakemake reads it, else beside this package's checkout."""
    for candidate in (Path("config.yaml"), Path(__file__).resolve().parents[2] / "config.yaml"):
        if candidate.is_file():
            return candidate
    return None


def check_settings(cfg: dict[str, Any]) -> None:
    """Every group the ``settings`` blocks name is registered, and every key one the group has
    (the schema checks each key's type, the registry which group has it): a typo would
    otherwise score silently at the defaults. One line per error."""
    from vkdnw.proxies.catalog import group, group_names

    blocks = [("settings", cfg.get("settings", {}))]
    blocks += [(f"per_dataset/{d}/settings", o.get("settings", {})) for d, o in cfg.get("per_dataset", {}).items()]
    for where, block in blocks:
        for name, keys in block.items():
            if name not in group_names() or group(name).ablation_only:
                raise ValueError(f"invalid config at {where}: unknown proxy group {name!r}; groups: "
                                 f"{', '.join(g for g in group_names() if not group(g).ablation_only)}")
            keys, has = keys or {}, group(name).settings
            unknown = sorted(set(keys) - set(has))
            if unknown:
                raise ValueError(f"invalid config at {where}/{name}: {name} has no setting {unknown[0]!r} "
                                 f"(its settings: {', '.join(has) or 'none'})")
            # The zero-cost groups (those with an input setting) run BatchNorm in training mode.
            if "input" in has and keys.get("batch_size", 2) < 2:
                raise ValueError(f"invalid config at {where}/{name}/batch_size: a zero-cost group needs 2 or more "
                                 "images (BatchNorm in training mode)")


def load_config(path: str | Path) -> dict[str, Any]:
    """A run's config as Snakemake resolves ``--configfile path``: the workflow's
    ``config.yaml``, then ``path`` over it, then the schema's defaults; validated. The tools
    (``vkdnw rescore``, ``bench``, ``reuse_scores``) resolve a preset through it, so they see
    the config the workflow ran."""
    base = base_config_path()
    cfg = read_yaml(path)
    if base is not None and base.resolve() != Path(path).resolve():
        cfg = merge(read_yaml(base), cfg)
    return validate_config(cfg, str(path))
