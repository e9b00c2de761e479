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
