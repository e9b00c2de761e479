import random

import pandas as pd
import pytest
import torch

from vkdnw.spaces import nb201, nb201_net


def test_counts():
    archs = nb201.all_archs()
    assert len(archs) == 15625 == len(set(archs))
    assert sum(map(nb201.is_unique, archs)) == 9445


def test_unique_flag_matches_benchmark(benchmark_csv):
    df = pd.read_csv(benchmark_csv, usecols=["arch_str", "unique_9445"])
    assert (df["arch_str"].map(nb201.is_unique) == df["unique_9445"]).all()


def test_enumeration_order_and_index():
    archs = nb201.all_archs()
    assert archs[0] == "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert archs[1] == "|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"
    for i in random.Random(0).sample(range(len(archs)), 50):
        assert nb201.arch_index(archs[i]) == i
        assert nb201.arch_from_ops(nb201.parse_arch(archs[i])) == archs[i]


@pytest.mark.parametrize("seed", range(8))
def test_aleph_formula(seed):
    arch = random.Random(seed).choice(nb201.all_archs())
    net = nb201_net.build_network(arch, 10)
    n_conv = sum(op.startswith("nor_conv") for op in nb201.parse_arch(arch))
    assert len(list(net.named_parameters())) == nb201.aleph(arch) == 21 + 45 * n_conv


def test_unique_rule_examples():
    # conv on edge 1<-0 feeds node 1, whose only way out is 'none': not on a path 0 -> 3
    dead = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    live = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|skip_connect~1|none~2|"
    assert not nb201.is_unique(dead)
    assert nb201.is_unique(live)
    # Without its dead conv the first cell is the lone skip 0 -> 3, a unique cell.
    assert nb201.without_dead_edges(dead) == "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    assert nb201.without_dead_edges(live) == live


def test_every_cell_without_its_dead_edges_is_one_of_the_unique_cells():
    archs = nb201.all_archs()
    unique = {a for a in archs if nb201.is_unique(a)}
    assert {nb201.without_dead_edges(a) for a in archs} == unique


@pytest.mark.parametrize(
    "bad, words",
    [
        ("|nor_conv_3x3~0|+|none~0|none~1|", "node groups"),
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv'"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "must come from node 0"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "has 1 edges, expected 2"),
        ("|none|+|none~0|none~1|+|none~0|none~1|none~2|", "lacks '~"),
        ("none~0+|none~0|none~1|+|none~0|none~1|none~2|", "enclosed in '|'"),
    ],
)
def test_bad_arch_strings(bad, words):
    with pytest.raises(ValueError, match=words.replace("|", r"\|")):
        nb201.parse_arch(bad)


def test_build_network_forward():
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    for name, info in nb201.DATASETS.items():
        net = nb201_net.build_network(arch, info["num_classes"])
        out = net(torch.randn(2, 3, info["resolution"], info["resolution"]))
        assert out.shape == (2, info["num_classes"]), name


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        nb201.dataset_info("mnist")
