"""GRAF features on hand-checked cells, and the model-driven rankings."""

import numpy as np
import pandas as pd
import pytest

from vkdnw.stages.graf import feature_frame, graf_features
from vkdnw.stages.model_driven import fit_and_evaluate, model_features

# 1<-0 conv3x3, 2<-0 none, 2<-1 skip, 3<-0 none, 3<-1 none, 3<-2 avg_pool (NB201 nodes 0..3).
CHAIN = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"
DIRECT = "|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|"  # only the input->output edge


def test_counts_and_paths_of_a_chain_cell():
    f = graf_features(CHAIN)
    assert len(f) == 5 + 30 * 6
    assert [f[f"graf_op_count_{o}"] for o in ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1",
                                              "avg_pool_3x3")] == [1, 3, 1, 0, 1]
    assert f["graf_min_path_len_no_none"] == 3  # 0 -> 1 -> 2 -> 3 is the only live path
    assert f["graf_min_path_len_no_skip_connect"] == 1  # the (none) 0 -> 3 edge is still an edge
    assert f["graf_min_path_len_no_none+nor_conv_3x3"] == 5  # no path: end + 1
    assert f["graf_max_op_on_path_nor_conv_3x3"] == 1
    assert f["graf_max_op_on_path_none"] == 1  # the direct 0 -> 3 none edge: +1, no path does better
    assert f["graf_in_degree_none"] == 2 and f["graf_out_degree_none"] == 2  # none edges at input/output
    assert f["graf_avg_in_none"] == 3 / 4


def test_direct_cell():
    f = graf_features(DIRECT)
    assert f["graf_min_path_len_no_none"] == 1
    assert f["graf_in_degree_nor_conv_1x1"] == 1 and f["graf_out_degree_nor_conv_1x1"] == 1
    assert f["graf_max_op_on_path_nor_conv_1x1"] == 1


# 1<-0 conv3x3, 2<-0 none, 2<-1 conv3x3, 3<-0 conv3x3, 3<-1 none, 3<-2 skip: for S = {conv3x3} the
# direct edge (+1, one S-edge) ties with 0 -> 1 -> 2 -> 3 (two S-edges, one other: +1).
TIE = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|nor_conv_3x3~0|none~1|skip_connect~2|"


def test_max_op_on_path_breaks_ties_as_zc_combine_does():
    """zc_combine takes networkx's Bellman-Ford path, the first of the tied paths (here the
    direct edge, one S-edge): ties="first", the default. ties="most" reads it as the path with
    most S-edges (the longer path's two)."""
    assert graf_features(TIE)["graf_max_op_on_path_nor_conv_3x3"] == 1
    assert graf_features(TIE, "most")["graf_max_op_on_path_nor_conv_3x3"] == 2


def test_path_features_match_networkx_on_sampled_cells():
    """The path features against zc_combine's definition, computed with networkx (which
    zc_combine uses) on 400 cells: min_path_len by BFS, max_op_on_path (ties="first") by
    Bellman-Ford with weight -1 on S-edges and +1 on the others, edges added in zc_combine's order."""
    nx = pytest.importorskip("networkx")
    from vkdnw.stages.graf import SUBSETS, _name, cell_edges
    from vkdnw.plan import select_archs

    order = ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4))
    for arch in [TIE, CHAIN, DIRECT, *select_archs("all", 400, 1)]:
        edges, f = cell_edges(arch), graf_features(arch, "first")
        for s in SUBSETS:
            live = nx.DiGraph([e for e in order if edges[e] not in s])
            try:
                shortest = nx.shortest_path_length(live, 1, 4)
            except (nx.NodeNotFound, nx.NetworkXNoPath):
                shortest = 5
            path = nx.shortest_path(nx.DiGraph(order), 1, 4, method="bellman-ford",
                                    weight=lambda u, v, _: -1 if edges[(u, v)] in s else 1)
            on_path = sum(edges[e] in s for e in zip(path, path[1:]))
            assert f[f"graf_min_path_len_no_{_name(s)}"] == shortest, (arch, s)
            assert f[f"graf_max_op_on_path_{_name(s)}"] == on_path, (arch, s)


def test_feature_frame_rejects_bad_arch():
    assert feature_frame([CHAIN, DIRECT]).shape == (2, 185)
    with pytest.raises(ValueError):
        graf_features("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|")


def test_random_forest_learns_a_graph_function():
    """Accuracy = a function of the op counts: GRAF ranks the test nets almost perfectly,
    while a model without graph features only has params to go on."""
    from vkdnw.plan import select_archs

    archs = select_archs("unique", 300, 0)
    f = feature_frame(archs)
    acc = 50 + 10 * f["graf_op_count_nor_conv_3x3"].to_numpy() - 5 * f["graf_op_count_avg_pool_3x3"].to_numpy()
    rng = np.random.default_rng(0)
    scores = pd.DataFrame({"arch_str": archs, "params": rng.normal(size=300)})
    rows = {r["method"]: r for r in fit_and_evaluate(scores, acc, seed=1, n_train=200, ndcg_k=50)}
    assert set(rows) == {"GRAF"}  # no VKDNW columns: only the GRAF model applies
    assert rows["GRAF"]["kt"] > 0.8 and rows["GRAF"]["n_nets"] == 100
    with pytest.raises(ValueError, match="no test nets"):
        fit_and_evaluate(scores, acc, seed=1, n_train=300, ndcg_k=50)


def test_model_features_fill_failed_scores_below_every_net():
    scores = pd.DataFrame({"arch_str": [CHAIN, DIRECT], "params": [1.0, 2.0], "aleph": [66.0, 66.0],
                           "flops": [1.0, 2.0], "trainability": [-np.inf, -0.5],
                           **{f"vkdnw_lambda_{k}": [1.0, 2.0] for k in range(1, 10)}})
    # By default the ZCS models want Table 1's whole zero-cost set; this frame has one score.
    assert model_features(scores, "(VKDNW+ZCS)_m") is None
    x = model_features(scores, "(VKDNW+ZCS)_m", zcs_required=())
    # Zero-cost scores enter as signed log1p (order kept); a failed one sits below every net.
    assert x["trainability"].tolist() == pytest.approx([-np.log1p(0.5) - 1.0, -np.log1p(0.5)])
    # SynFlow's 1e66 would overflow the float32 the trees use; its log does not.
    big = model_features(scores.assign(synflow=[1e66, 1e60]), "(VKDNW+ZCS)_m", zcs_required=["synflow"])["synflow"]
    assert np.isfinite(big.astype(np.float32)).all() and big[0] > big[1]
    assert model_features(scores.drop(columns="vkdnw_lambda_1"), "VKDNW_m") is None
    # VKDNW's entropy alone is no zero-cost set: no (VKDNW+ZCS)_m row then.
    only_vkdnw = scores.drop(columns="trainability").assign(vkdnw=[1.0, 2.0])
    assert model_features(only_vkdnw, "(VKDNW+ZCS)_m", zcs_required=()) is None
    assert model_features(only_vkdnw, "VKDNW_m") is not None


def test_model_variants_measure_each_feature_set_over_seeds(tmp_path):
    """`vkdnw model-variants`: every variant, averaged over the seeds, with its feature count
    (GRAF: the paper's 155 graph features + params; min_path_len adds one per op subset)."""
    from vkdnw.io import write_parquet
    from vkdnw.stages.model_driven import VARIANTS, model_variants
    from vkdnw.plan import select_archs

    archs = select_archs("unique", 120, 0)
    f = feature_frame(archs)
    acc = 50 + 10 * f["graf_op_count_nor_conv_3x3"].to_numpy()
    rng = np.random.default_rng(0)
    scores = pd.DataFrame({"arch_str": archs, "is_unique": True, "params": rng.normal(size=120),
                           "aleph": rng.normal(size=120), "flops": rng.normal(size=120),
                           "vkdnw": rng.normal(size=120),
                           **{f"vkdnw_lambda_{k}": rng.normal(size=120) for k in range(1, 10)}})
    write_parquet(scores, tmp_path / "scores.parquet")
    write_parquet(pd.DataFrame({"arch_str": archs, "acc_cifar10": acc}), tmp_path / "bench.parquet")
    t = model_variants(tmp_path / "scores.parquet", tmp_path / "bench.parquet", dataset="cifar10", seeds=[1, 2],
                       n_train=80, ndcg_k=20).set_index("variant")
    # The training-size variant that needs more nets than the run has is left out, and so are
    # those of cells without dead edges: unique cells have none, so they would repeat others.
    assert list(t.index) == [v for v in VARIANTS if v != "VKDNW_m, 2 n_train" and "dead edges" not in v]
    assert t.loc["VKDNW_m, n_train / 4", "n_train"] == 20 and t.loc["VKDNW_m", "n_train"] == 80
    assert abs(t.loc["VKDNW_m, training nets stratified by accuracy decile", "n_train"] - 80) <= 5
    n = t["n_features"]
    # GRAF is the paper's feature set: nb201_full without its 30 min_path_len features.
    assert n["GRAF"] == 186 - 30 and n["GRAF without params"] == 155 and n["GRAF op counts + params"] == 6
    assert n["GRAF with min_path_len (all of nb201_full)"] == 186 and n["GRAF without node degrees"] == 66
    assert n["GRAF, the authors' notebook's forest"] == 155
    assert n["VKDNW_m"] == 12 and n["VKDNW_m without params"] == 11
    assert t.loc["GRAF", "kt"] > 0.8 and t.loc["VKDNW_m lambdas only", "kt"] < 0.5  # noise features
    assert t["kt_std"].notna().all()  # two seeds: a spread
    # A run without VKDNW scores (CIFAR-100 on the reference machine) gets the GRAF variants only.
    write_parquet(scores[["arch_str", "is_unique", "params"]], tmp_path / "size_only.parquet")
    t = model_variants(tmp_path / "size_only.parquet", tmp_path / "bench.parquet", dataset="cifar10", seeds=[1],
                       n_train=80, ndcg_k=20)
    assert set(t["variant"]) == {v for v in VARIANTS if v.startswith("GRAF") and "dead edges" not in v}


def test_model_rows_say_which_scores_and_inputs_fed_them():
    """A model row names the proxy groups it was fed and their input and batch, as single
    rows do; a run without a required zero-cost group writes no (VKDNW+ZCS) rows."""
    from vkdnw.plan import select_archs

    archs = select_archs("unique", 60, 0)
    rng = np.random.default_rng(0)
    cols = {c: rng.normal(size=60) for c in ["params", "flops", "aleph", "vkdnw", "jacov", "synflow",
                                             *(f"vkdnw_lambda_{k}" for k in range(1, 10))]}
    scores = pd.DataFrame({"arch_str": archs, **cols, "input_jacov": "real", "input_synflow": "ones",
                           "batch_size_vkdnw": 8, "batch_size_jacov": 64, "batch_size_synflow": 64})
    acc = rng.uniform(50, 90, size=60)
    rows = {r["method"]: r for r in fit_and_evaluate(scores, acc, seed=1, n_train=40, ndcg_k=10,
                                                     zcs_required=["jacov"])}
    fed = {m: (r["groups"], r["input"], r["batch_size"]) for m, r in rows.items()}
    assert fed["GRAF"] == ("size", "-", "-")
    assert fed["VKDNW_m"] == ("size,vkdnw", "random", "8")
    assert fed["(VKDNW+ZCS)_m"] == fed["(VKDNW+ZCS+GRAF)_m"] == ("jacov,size,synflow,vkdnw", "ones+random+real", "8+64")
    without = fit_and_evaluate(scores.drop(columns=["jacov", "input_jacov"]), acc, seed=1, n_train=40, ndcg_k=10,
                               zcs_required=["jacov"])
    assert {r["method"] for r in without} == {"GRAF", "VKDNW_m"}


def test_a_run_too_small_for_n_train_writes_no_model_rows_and_says_why(tmp_path, capsys):
    from vkdnw.io import read_parquet, write_parquet
    from vkdnw.stages.model_driven import run_model_metrics
    from vkdnw.plan import select_archs

    archs = select_archs("unique", 30, 0)
    rng = np.random.default_rng(0)
    write_parquet(pd.DataFrame({"arch_str": archs, "is_unique": True, "params": rng.normal(size=30)}),
                  tmp_path / "scores.parquet")
    write_parquet(pd.DataFrame({"arch_str": archs, "acc_cifar10": rng.uniform(10, 90, 30)}), tmp_path / "b.parquet")
    out = tmp_path / "model_metrics.parquet"
    run_model_metrics(tmp_path / "scores.parquet", tmp_path / "b.parquet", out, dataset="cifar10", seed=1,
                      n_train=1024, ndcg_k=10)
    assert read_parquet(out, ("method", "subset")).empty
    err = capsys.readouterr().err
    assert "n_train=1024 leaves no test nets" in err and "below 30" in err
    run_model_metrics(tmp_path / "scores.parquet", tmp_path / "b.parquet", out, dataset="cifar10", seed=1,
                      n_train=20, ndcg_k=10)
    assert set(read_parquet(out)["method"]) == {"GRAF"}


def test_full_graf_features_are_rows_of_their_own():
    """The GRAF rows keep the paper's feature set; all of nb201_full adds labelled rows."""
    from vkdnw.plan import select_archs

    archs = select_archs("unique", 150, 0)
    f = feature_frame(archs)
    acc = 50 + 10 * f["graf_op_count_nor_conv_3x3"].to_numpy()
    rng = np.random.default_rng(0)
    scores = pd.DataFrame({"arch_str": archs, "params": rng.normal(size=150), "aleph": rng.normal(size=150),
                           "flops": rng.normal(size=150), "vkdnw": rng.normal(size=150), "jacov": rng.normal(size=150),
                           **{f"vkdnw_lambda_{k}": rng.normal(size=150) for k in range(1, 10)}})
    kw = dict(seed=1, n_train=100, ndcg_k=10, zcs_required=["jacov"])
    plain = {r["method"]: r for r in fit_and_evaluate(scores, acc, **kw)}
    both = {r["method"]: r for r in fit_and_evaluate(scores, acc, graf_full=True, **kw)}
    assert set(plain) == {"GRAF", "VKDNW_m", "(VKDNW+ZCS)_m", "(VKDNW+ZCS+GRAF)_m"}
    assert set(both) == set(plain) | {"GRAF_full", "(VKDNW+ZCS+GRAF_full)_m"}
    assert both["GRAF"] == plain["GRAF"]  # the paper's row does not move
    assert both["GRAF"]["n_features"] == 156 and both["GRAF_full"]["n_features"] == 186
    assert both["(VKDNW+ZCS+GRAF_full)_m"]["n_features"] == both["(VKDNW+ZCS+GRAF)_m"]["n_features"] + 30


def test_the_paper_families_are_the_columns_the_authors_notebook_selects():
    """The authors keep zc_combine's columns whose names contain 'op_' or 'node_': op_count_*,
    max_op_on_path_* and node_degree_* (30 subsets x in/out/avg_in/avg_out), not min_path_len_*."""
    from vkdnw.stages.graf import FAMILIES, PAPER_FAMILIES, family

    f = feature_frame([CHAIN])
    counts = pd.Series([family(c) for c in f.columns]).value_counts().to_dict()
    assert counts == {"op_count": 5, "min_path_len": 30, "max_op_on_path": 30, "node_degree": 120}
    assert set(FAMILIES) - set(PAPER_FAMILIES) == {"min_path_len"}
    paper = feature_frame([CHAIN], families=PAPER_FAMILIES)
    assert paper.shape[1] == 155 and not any("min_path_len" in c for c in paper.columns)
    # zc_combine's tie rule is the default: its networkx path, not the one with most S-edges.
    assert paper.equals(f[paper.columns])
    assert feature_frame([TIE])["graf_max_op_on_path_nor_conv_3x3"].item() == 1  # "most" says 2
    with pytest.raises(ValueError, match="unknown GRAF feature families"):
        feature_frame([CHAIN], families=["op_count", "path_len"])
