"""The config's validation: defaults, one-line errors, and --config strings that are numbers."""

import pytest
import yaml

from conftest import REPO
from vkdnw.config import load_config, validate_config


def test_defaults_are_filled_in():
    cfg = validate_config({})
    assert cfg["settings"] == {} and cfg["model_driven"]["n_train"] == 1024


def test_nested_cli_strings_become_what_the_schema_wants():
    # What `snakemake --config 'model_driven={"n_train": 100}'` hands over: YAML's base loader
    # reads every nested scalar as a string.
    cfg = validate_config({"model_driven": {"n_train": "100", "enabled": "true"},
                           "settings": {"vkdnw": {"position": "0.5"}},
                           "per_dataset": {"cifar10": {"settings": {"jacov": {"batch_size": "16"}}}},
                           "seeds": ["1", "2"], "results": "123"})
    assert cfg["model_driven"]["n_train"] == 100 and cfg["model_driven"]["enabled"] is True
    assert cfg["settings"]["vkdnw"]["position"] == 0.5 and cfg["seeds"] == [1, 2]
    assert cfg["per_dataset"]["cifar10"]["settings"]["jacov"]["batch_size"] == 16
    assert cfg["results"] == "123"  # a string where the schema wants one stays a string
    s = validate_config({"settings": {"vkdnw": {"position": "random"}}})["settings"]
    assert s["vkdnw"]["position"] == "random"


@pytest.mark.parametrize("cfg, where", [
    ({"benchmrk": None}, "top level"),
    ({"settings": {"vkdnw": {"batch_size": "x"}}}, "settings/vkdnw/batch_size"),
    ({"settings": {"vkdnw": {"batchsize": 8}}}, "settings/vkdnw"),
    ({"per_dataset": {"mnist": {"proxies": ["size"]}}}, "per_dataset"),
    ({"per_dataset": {"cifar10": {"batch_size": 8}}}, "per_dataset/cifar10"),
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
    ({"per_dataset": {"cifar10": {"proxies": ["size", "zcio"]}}},
     "at per_dataset/cifar10/proxies: unknown proxy group 'zcio'"),
    ({"settings": {"zcio": {"batch_size": 8}}}, "at settings: unknown proxy group 'zcio'"),
    ({"per_dataset": {"cifar10": {"settings": {"vkdnw_real": {"batch_size": 8}}}}},
     "at per_dataset/cifar10/settings: unknown proxy group 'vkdnw_real'"),
    ({"settings": {"snip": {"dtype": "float64"}}}, "at settings/snip: snip has no setting 'dtype' (its settings: "
                                                   "batch_size, input)"),
    ({"settings": {"size": {"batch_size": 8}}}, "at settings/size: size has no setting 'batch_size' (its settings: none)"),
    ({"settings": {"vkdnw": {"input": "real"}}}, "at settings/vkdnw: vkdnw has no setting 'input'"),
    ({"per_dataset": {"cifar10": {"settings": {"tenas": {"batch_size": 1}}}}},
     "at per_dataset/cifar10/settings/tenas/batch_size: a zero-cost group needs 2 or more"),
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


@pytest.mark.parametrize("cfg, new", [
    ({"vkdnw": {"batch_size": 8}}, "write settings: {vkdnw: {batch_size: ..."),
    ({"zero_cost": {"batch_size": 16}}, "write settings: {<group>: {batch_size: ..., dtype: ..., input: real|random}}"),
    ({"dataset_proxies": {"cifar10": ["size"]}}, "write per_dataset: {<dataset>: {proxies: [...]}}"),
    ({"model_driven": {"graf_degree_features": True}}, "write model_driven: {graf_full_features: true}"),
])
def test_replaced_keys_are_one_line_errors_naming_the_new_key(cfg, new):
    with pytest.raises(ValueError) as exc:
        validate_config(cfg)
    assert "was replaced" in str(exc.value) and new in str(exc.value) and "\n" not in str(exc.value)


def test_a_preset_resolves_over_config_yaml_as_snakemake_resolves_it(tmp_path, monkeypatch):
    """--configfile over the Snakefile's config.yaml, mappings key by key: the tools (rescore,
    bench, reuse_scores) see the config the workflow ran."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "datasets": ["cifar10"], "settings": {"vkdnw": {"n_tensors": 64}, "zico": {"dtype": "float64"}}}))
    (tmp_path / "preset.yaml").write_text(yaml.safe_dump({"settings": {"vkdnw": {"batch_size": 8}}, "seeds": [3]}))
    monkeypatch.chdir(tmp_path)
    cfg = load_config("preset.yaml")
    assert cfg["settings"] == {"vkdnw": {"n_tensors": 64, "batch_size": 8}, "zico": {"dtype": "float64"}}
    assert cfg["datasets"] == ["cifar10"] and cfg["seeds"] == [3]
    assert load_config("config.yaml")["seeds"] == [1, 2, 3, 4, 5]  # the base alone: schema defaults
