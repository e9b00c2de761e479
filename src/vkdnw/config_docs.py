"""``docs/configuration.md`` from the config schema's descriptions (``python -m vkdnw.config_docs``).

The schema is the one place a key's meaning, type and default live; the page is generated from
it so that the two cannot drift (``tests/test_docs.py`` checks that the committed page is
current).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Iterator

from vkdnw.config import load_schema


HEADER = """\
# Configuration reference

Generated from `src/vkdnw/config.schema.yaml` by `python -m vkdnw.config_docs docs/configuration.md`;
do not edit by hand. `config.yaml` holds the paper's settings; presets in `config/` change a few
keys. A run validates its config against the schema before any job starts: an unknown key or a
wrong type stops it with one line naming the key. Override single keys with
`--config key=value` (nested: `--config 'settings={"vkdnw": {"batch_size": 8}}'`).

How the benchmark and the input data are set: [data.md](data.md).
"""


def _type(node: dict[str, Any]) -> str:
    t = node.get("type", "")
    types = t if isinstance(t, list) else [t]
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    if types == ["array"] and isinstance(node.get("items"), dict):
        inner = _type(node["items"])
        return f"list of {inner}" if inner else "list"
    return " or ".join(x for x in types if x)


def _default(node: dict[str, Any]) -> str:
    if "default" not in node:
        return ""
    text = json.dumps(node["default"], ensure_ascii=False)
    return f"`{text}`" if len(text) <= 60 else "see `config.yaml`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


# What a mapping's free keys stand for (``additionalProperties``), by the key that holds it.
PLACEHOLDER = {"settings": "<group>", "per_dataset": "<dataset>"}


def _rows(properties: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    for name, node in properties.items():
        key = f"{prefix}{name}"
        yield key, _type(node), _default(node), _cell(node.get("description", ""))
        if isinstance(node.get("properties"), dict):
            yield from _rows(node["properties"], f"{key}.")
        free = node.get("additionalProperties")
        # A dataset overlay's settings have the run-wide settings' keys: listed once.
        if isinstance(free, dict) and isinstance(free.get("properties"), dict) and not (name == "settings" and prefix):
            yield from _rows(free["properties"], f"{key}.{PLACEHOLDER.get(name, '<key>')}.")


def group_table() -> list[str]:
    """Every proxy group's settings and defaults, from the registry (read without torch)."""
    from vkdnw.proxies.catalog import catalog

    lines = ["\n## Proxy groups' settings\n",
             "The defaults each group registers (`vkdnw proxies` lists them too); `settings.<group>` and "
             "`per_dataset.<dataset>.settings.<group>` override them key by key.\n",
             "| group | settings (defaults) |", "|---|---|"]
    for name, g in catalog().items():
        if g.ablation_only:
            continue
        shown = ", ".join(f"`{k}: {json.dumps(v)}`" for k, v in g.settings.items()) or "none"
        lines.append(f"| `{name}` | {shown} |")
    return lines


def render(schema: dict[str, Any]) -> str:
    """The reference page: one table per top-level key that has sub-keys, one for the rest."""
    plain, nested = [], []
    for name, node in schema["properties"].items():
        (nested if isinstance(node.get("properties"), dict) else plain).append(name)
    out = [HEADER]

    def table(title: str, props: dict[str, Any], prefix: str = "", intro: str = "") -> None:
        out.append(f"\n## {title}\n")
        if intro:
            out.append(_cell(intro) + "\n")
        out.append("| key | type | default | meaning |\n|---|---|---|---|")
        out.extend(f"| `{k}` | {t} | {d} | {m} |" for k, t, d, m in _rows(props, prefix))

    table("Top-level keys", {k: schema["properties"][k] for k in plain})
    out.extend(group_table())
    for name in nested:
        node = schema["properties"][name]
        table(f"`{name}`", node["properties"], f"{name}.", node.get("description", ""))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path, help="where to write the page (docs/configuration.md)")
    a = p.parse_args(argv)
    from vkdnw.io import write_text

    write_text(render(load_schema()), a.out)


if __name__ == "__main__":
    main()
