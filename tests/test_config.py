"""The config's validation: defaults, one-line errors, and --config strings that are numbers."""

import pytest
import yaml

from conftest import REPO
from vkdnw.config import load_config, validate_config


def test_defaults_are_filled_in():
    cfg = validate_config({})
    assert cfg["vkdnw"]["batch_size"] == 64 and cfg["model_driven"]["n_train"] == 1024


def test_nested_cli_strings_become_what_the_schema_wants():
    # What `snakemake --config 'model_driven={"n_train": 100}'` hands over: YAML's base loader
    # reads every nested scalar as a string.
    cfg = validate_config({"model_driven": {"n_train": "100", "enabled": "true"}, "vkdnw": {"position": "0.5"},
                           "seeds": ["1", "2"], "results": "123"})
    assert cfg["model_driven"]["n_train"] == 100 and cfg["model_driven"]["enabled"] is True
    assert cfg["vkdnw"]["position"] == 0.5 and cfg["seeds"] == [1, 2]
    assert cfg["results"] == "123"  # a string where the schema wants one stays a string
    assert validate_config({"vkdnw": {"position": "random"}})["vkdnw"]["position"] == "random"


@pytest.mark.parametrize("cfg, where", [
    ({"benchmrk": None}, "top level"),
    ({"vkdnw": {"batch_size": "x"}}, "vkdnw/batch_size"),
    ({"vkdnw": {"batchsize": 8}}, "vkdnw"),
    ({"datasets": ["mnist"]}, "datasets/0"),
])
def test_errors_are_one_line_naming_the_key(cfg, where):
    with pytest.raises(ValueError) as exc:
        validate_config(cfg)
    assert f"at {where}:" in str(exc.value) and "\n" not in str(exc.value)


def test_quick_preset_trains_forests_on_part_of_its_nets():
    quick = yaml.safe_load((REPO / "config/quick.yaml").read_text())
    full = load_config(REPO / "config/quick.yaml")
    assert full["model_driven"]["n_train"] < quick["n_archs"]


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def test_the_schema_enumerates_no_proxy_group():
    """Group names are the registry's: no enum or default of the schema lists one, so that a
    new group needs no schema edit."""
    from vkdnw.config import load_schema
    from vkdnw.proxies.catalog import group_names

    groups = set(group_names())
    schema = load_schema()
    # The MBV2 search's score components (mbv2.search.components) are not NB201 proxy groups,
    # though one of them is VKDNW too.
    nb201 = {k: v for k, v in schema["properties"].items() if k != "mbv2"}
    for node in _walk(nb201):
        values = list(node.get("enum", [])) + ([node["default"]] if "default" in node else [])
        flat = [x for v in values for x in (v if isinstance(v, list) else [v])]
        assert not groups & {x for x in flat if isinstance(x, str)}, node


@pytest.mark.parametrize("cfg, message", [
    ({"proxies": ["vkdnww"]}, "invalid config at proxies: unknown proxy group 'vkdnww'; a run's groups: aznas,"),
    ({"dataset_proxies": {"cifar10": ["size", "zcio"]}}, "at dataset_proxies/cifar10: unknown proxy group 'zcio'"),
    ({"model_driven": {"zcs_required": ["snp"]}}, "at model_driven/zcs_required: unknown proxy group 'snp'"),
    ({"proxies": ["vkdnw_real"]}, "a group only the ablations score 'vkdnw_real'"),
])
def test_group_names_are_checked_against_the_registry(cfg, message):
    with pytest.raises(ValueError) as exc:
        validate_config(cfg)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_group_defaults_come_from_the_registry_and_the_paper():
    cfg = validate_config({})
    assert cfg["proxies"] == ["size", "vkdnw"]  # registered with default_run=True
    assert cfg["model_driven"]["zcs_required"] == ["jacov", "aznas", "gradnorm", "grasp", "snip", "synflow",
                                                   "naswot", "zen", "zico"]
    assert validate_config({"model_driven": {"zcs_required": []}})["model_driven"]["zcs_required"] == []
