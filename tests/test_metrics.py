import numpy as np
import pandas as pd
import pytest

from vkdnw.stages.figures import toy_rank
from vkdnw.stages.metrics import aggregate, evaluate, tie_broken_order
from vkdnw.stages.ranking import lexicographic, rank_methods

ACC = np.array([100, 90, 80, 70, 60, 50, 40, 30, 20, 10], dtype=float)


def test_perfect_ranking():
    m = evaluate(ACC, ACC, seed=0, ndcg_k=5)
    assert m["kt"] == pytest.approx(1) and m["spr"] == pytest.approx(1) and m["ndcg"] == pytest.approx(1)
    assert m["top1"] == 100


def test_paper_toy_example():
    # Figure 2: "damaged top" swaps the two best with the 3rd and 4th; "perfect top"
    # reverses the order of the four worst.
    damaged = evaluate(toy_rank([2, 3, 0, 1, 4, 5, 6, 7, 8, 9]), ACC, seed=0, ndcg_k=5)
    perfect = evaluate(toy_rank([0, 1, 2, 3, 4, 5, 9, 8, 7, 6]), ACC, seed=0, ndcg_k=5)
    assert damaged["kt"] > perfect["kt"] and damaged["spr"] > perfect["spr"]
    assert perfect["ndcg"] == pytest.approx(1.0)
    assert damaged["ndcg"] == pytest.approx(0.5, abs=0.01)


def test_ties_broken_at_random_with_seed():
    rank = np.array([1.0, 1.0, 1.0, 2.0])
    a, b = tie_broken_order(rank, 1), tie_broken_order(rank, 1)
    assert np.array_equal(a, b) and a[3] == 3
    orders = {tuple(tie_broken_order(rank, s)[:3]) for s in range(20)}
    assert len(orders) > 1


def test_lexicographic_groups_by_first_key():
    aleph = pd.Series([21, 66, 21, 66, np.nan])
    v = pd.Series([2.0, 0.1, 0.5, 0.2, 1.0])
    assert lexicographic(aleph, v).tolist() == [3, 4, 2, 5, 1]


def test_rank_methods_nan_ranks_last():
    scores = pd.DataFrame({"arch_str": list("abc"), "index": [0, 1, 2], "is_unique": True,
                           "aleph": [21.0, 66.0, 66.0], "vkdnw": [1.0, np.nan, 0.5]})
    r = rank_methods(scores)
    assert r["VKDNW"].tolist() == [3, 1, 2]
    # lexicographic: a failed VKDNW ranks last within its aleph group, not below smaller nets
    assert r["VKDNW_single"].tolist() == [1, 2, 3]


def test_aggregate_mean_std():
    m = pd.DataFrame({"method": ["x", "x"], "dataset": ["cifar10"] * 2, "seed": [1, 2], "kt": [0.5, 0.7],
                      "spr": [0.1, 0.1], "ndcg": [0.2, 0.4], "top1": [90.0, 92.0], "n_nets": 10,
                      "type": "S", "input": "random", "batch_size": 8})
    t = aggregate(m)
    assert t.loc[0, "kt"] == pytest.approx(0.6) and t.loc[0, "kt_std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert t.loc[0, "n_seeds"] == 2


def test_compare_with_paper(tmp_path):
    from vkdnw.stages.metrics import compare_with_paper

    row = {"method": "VKDNW_single", "dataset": "ImageNet16-120", "kt": 0.6, "kt_std": np.nan, "spr": 0.8,
           "spr_std": np.nan, "ndcg": 0.6, "ndcg_std": np.nan, "top1": 45.0, "top1_std": np.nan, "n_seeds": 1,
           "n_nets": 9445, "input": "random", "batch_size": 8}
    pd.DataFrame([row, {**row, "method": "VKDNW"}]).to_csv(tmp_path / "t.csv", index=False)
    text = compare_with_paper(tmp_path / "t.csv")
    assert "0.600 / 0.615" in text  # Table 5, batch 8
    assert "| VKDNW |" not in text  # no paper row for the entropy alone


def test_a_samples_ndcg_and_top1_are_not_set_beside_the_papers(tmp_path):
    """KT/SPR of a sample estimate the full space's; nDCG@1000 and the top pick do not (1,000
    of 1,000 nets is the whole ranking), so a sampled run gets no paper value for those."""
    from vkdnw.stages.metrics import compare_with_paper, paper_comparable, write_top1_table

    row = {"method": "FLOPs", "type": "S", "dataset": "ImageNet16-120", "kt": 0.55, "kt_std": np.nan, "spr": 0.72,
           "spr_std": np.nan, "ndcg": 0.7, "ndcg_std": np.nan, "top1": 41.0, "top1_std": np.nan, "n_seeds": 1,
           "n_nets": 1000, "input": "-", "batch_size": "-"}
    full = {**row, "dataset": "cifar10", "n_nets": 9445}
    model = {**full, "method": "GRAF", "type": "A", "n_nets": 8421}
    pd.DataFrame([row, full, model]).to_csv(tmp_path / "t.csv", index=False)
    text = compare_with_paper(tmp_path / "t.csv")
    assert "| 0.550 / 0.545 | 0.720 / 0.718 | 0.700 / - (sample) |" in text
    assert "0.700 / 0.745" in text and "0.700 / 0.935" in text  # full space; GRAF on its test nets
    t7 = write_top1_table(tmp_path / "t.csv", tmp_path / "t7.csv", tmp_path / "t7.md").set_index("dataset")
    assert np.isnan(t7.loc["ImageNet16-120", "paper_top1"]) and t7.loc["cifar10", "paper_top1"].tolist()[0] == 93.76
    assert paper_comparable("GRAF", 8421) and not paper_comparable("GRAF", 9445)


def test_log_product_aggregation_and_subset_reranking():
    from vkdnw.stages.ranking import combine_ranks, rank_methods, rerank_aggregates

    r = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [4.0, 1.0, 2.0, 3.0]})
    # log(1*4)=1.39, log(2*1)=0.69, log(3*2)=1.79, log(4*3)=2.48
    assert combine_ranks(r, ("a", "b")).tolist() == [2.0, 1.0, 3.0, 4.0]
    assert combine_ranks(r, ("a", "b"), "sum").tolist() == [2.5, 1.0, 2.5, 4.0]  # 5, 3, 5, 7
    with pytest.raises(ValueError, match="unknown combine"):
        combine_ranks(r, ("a",), "max")
    scores = pd.DataFrame({"arch_str": list("wxyz"), "index": range(4), "is_unique": [True, True, True, False],
                           "flops": [1.0, 2.0, 3.0, 4.0], "expressivity": [3.0, 1.0, 2.0, 0.5],
                           "progressivity": [1.0, 2.0, 3.0, 4.0], "trainability": [2.0, 3.0, 1.0, 9.0],
                           "params": [1.0, 2.0, 3.0, 4.0], "aleph": [1.0, 1.0, 2.0, 2.0]})
    ranks = rank_methods(scores)
    assert "AZ-NAS" in ranks and "VKDNW_agg" not in ranks  # no Jacov/VKDNW scores
    sub = rerank_aggregates(ranks[ranks["is_unique"]])
    expected = combine_ranks(ranks[ranks["is_unique"]], ("expressivity", "progressivity", "trainability", "FLOPs"))
    assert sub["AZ-NAS"].tolist() == expected.tolist()


def test_method_inputs_from_scores():
    """Input and batch come from what the score rows record, nothing else."""
    from vkdnw.stages.metrics import method_inputs

    scores = pd.DataFrame({"input_jacov": ["real", "real"], "input_aznas": ["random", "random"],
                           "batch_size_vkdnw": [8, 8], "batch_size_jacov": [64, 64], "batch_size_aznas": [16, 16]})
    kinds = method_inputs(scores)
    assert kinds["Jacov"] == ("real", "64") and kinds["VKDNW_single"] == ("random", "8")
    assert kinds["VKDNW_agg"] == ("random+real", "8+16+64") and kinds["FLOPs"] == ("-", "-")
    # Table 5's real-input twin counts as VKDNW; a run without the columns says "-".
    twin = method_inputs(pd.DataFrame({"input_vkdnw_real": ["real"], "batch_size_vkdnw_real": [32]}))
    assert twin["VKDNW_single"] == ("real", "32")
    assert method_inputs(pd.DataFrame({"arch_str": ["a"]}))["Jacov"] == ("-", "-")


def test_size_profile_and_figures(tmp_path):
    from vkdnw.stages.figures import draw_figures, size_profile

    rng = np.random.default_rng(0)
    aleph = np.repeat([21, 66, 111], 20).astype(float)
    params = aleph * 100 + rng.normal(0, 10, 60)
    scores = pd.DataFrame({"arch_str": [f"a{i}" for i in range(60)], "aleph": aleph, "params": params,
                           "vkdnw": rng.normal(size=60), "expressivity": aleph + rng.normal(0, 0.1, 60)})
    groups, overall = size_profile(scores)
    kt = overall.set_index("component")["kt_aleph"]
    assert kt["expressivity"] > 0.8 and abs(kt["VKDNW"]) < 0.3  # size-driven vs orthogonal
    assert set(groups["aleph"]) == {21, 66, 111} and (groups["n"] == 20).all()
    run = tmp_path / "ImageNet16-120/seed1"
    run.mkdir(parents=True)
    scores.to_parquet(run / "scores.parquet")
    files = draw_figures([("ImageNet16-120", str(run / "scores.parquet"))], tmp_path / "figures")
    assert sorted(f.name for f in files) == sorted(f"figure{n}_ImageNet16-120.{e}" for n in (3, 4) for e in ("png", "svg"))
    assert all(f.stat().st_size > 1000 for f in files)


def test_toy_example_significance():
    """The paper's footnotes: damaged top beats random rankings under KT and SPR (p < 0.005)
    but not under nDCG@5 (about the 75th percentile of random rankings)."""
    from vkdnw.stages.significance import paired_bootstrap, permutation_pvalues

    damaged = toy_rank([2, 3, 0, 1, 4, 5, 6, 7, 8, 9])
    p = permutation_pvalues(damaged, ACC, seed=0, n_perm=1000, ndcg_k=5)
    assert p["p_kt"] < 0.005 and p["p_spr"] < 0.005
    assert 0.1 < p["p_ndcg"] < 0.5  # measured 0.228: the 77th percentile
    perfect = toy_rank([0, 1, 2, 3, 4, 5, 9, 8, 7, 6])
    ci = paired_bootstrap(perfect, damaged, ACC, seed=0, n_boot=300, ndcg_k=5)
    # Perfect top is never worse at the top (ties only where a resample misses the top nets),
    # and worse by correlation on average.
    assert ci["ndcg_lo"] > -1e-6 and ci["ndcg_diff"] > 0.2 and ci["kt_diff"] < 0


def test_figure2_draws_the_toy_example_metrics(tmp_path):
    from vkdnw.stages.figures import draw_toy, toy_metrics

    m = toy_metrics().set_index("ranking")
    damaged = evaluate(toy_rank([2, 3, 0, 1, 4, 5, 6, 7, 8, 9]), ACC, seed=0, ndcg_k=5)
    assert m.loc["damaged top", "kt"] == pytest.approx(damaged["kt"])
    assert m.loc["perfect top", "ndcg"] == pytest.approx(1.0) and m.loc["damaged top", "ndcg"] < 0.51
    files = draw_toy(tmp_path)
    assert {f.name for f in files} == {"figure2.png", "figure2.svg"}
    assert "nDCG@5 0.500" in (tmp_path / "figure2.svg").read_text()


def test_figures_are_byte_identical_across_runs(tmp_path):
    """No date in the files and fixed SVG ids: a rerun's figures hash the same (archives)."""
    import hashlib

    from vkdnw.stages.figures import draw_toy

    digests = []
    for run in ("a", "b"):
        files = draw_toy(tmp_path / run) if (tmp_path / run).mkdir() is None else []
        digests.append(sorted(hashlib.sha256(f.read_bytes()).hexdigest() for f in files))
    assert digests[0] == digests[1] and len(digests[0]) == 2
    assert "<dc:date>" not in (tmp_path / "a/figure2.svg").read_text()


def test_table4_ranks_nonfinite_scores_last_or_drops_them(tmp_path):
    from scipy.stats import kendalltau

    from vkdnw.stages.metrics import aleph_correlations

    aleph = np.array([1, 1, 2, 3, 4, 5, 6, 7], dtype=float)
    # Expressivity is -inf (and NaN for a failed net) on the nets with the fewest layers, and
    # falls with aleph elsewhere: kept last they agree with aleph; dropped they do not.
    expr = np.array([-np.inf, np.nan, -np.inf, 5.0, 4.0, 3.0, 6.0, 2.0])
    run = tmp_path / "nb201/cifar10/seed1"
    run.mkdir(parents=True)
    pd.DataFrame({"arch_str": list("abcdefgh"), "aleph": aleph, "expressivity": expr,
                  "is_unique": True}).to_parquet(run / "scores.parquet")
    files = [("cifar10", str(run / "scores.parquet"))]
    kept = aleph_correlations(files).set_index("component").loc["expressivity", "cifar10"]
    dropped = aleph_correlations(files, nonfinite="drop").set_index("component").loc["expressivity", "cifar10"]
    assert kept == pytest.approx(kendalltau(aleph, np.where(np.isnan(expr), -np.inf, expr)).statistic)
    assert dropped == pytest.approx(kendalltau(aleph[3:], expr[3:]).statistic)
    assert kept > 0 > dropped
    with pytest.raises(ValueError, match="nonfinite"):
        aleph_correlations(files, nonfinite="zero")


def test_table4_variants_tau_a_and_the_committed_definition(tmp_path):
    import itertools

    from vkdnw.io import write_parquet
    from vkdnw.stages.metrics import aleph_correlations
    from vkdnw.tools.table4_variants import table4_variants, tau_a

    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 4, 40), rng.integers(0, 6, 40)
    pairs = list(itertools.combinations(range(40), 2))
    brute = sum(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j]) for i, j in pairs) / len(pairs)
    assert tau_a(x, y) == pytest.approx(brute, abs=1e-12)
    run = tmp_path / "cifar10" / "seed1"
    run.mkdir(parents=True)
    n = 60
    scores = pd.DataFrame({"arch_str": [f"a{i}" for i in range(n)], "aleph": rng.integers(1, 5, n), "is_unique": True,
                           "vkdnw": rng.normal(size=n), "expressivity": np.r_[rng.normal(size=n - 3), [-np.inf] * 3],
                           **{f"vkdnw_lambda_{k}": rng.uniform(1, 2, n) * k for k in range(1, 10)}})
    scores.loc[:9, "vkdnw_lambda_1"] = 0.0  # ten nets with a zero decile
    write_parquet(scores, run / "scores.parquet")
    files = [("cifar10", str(run / "scores.parquet"))]
    t = table4_variants(files).set_index(["variant", "component"])
    committed = aleph_correlations(files).set_index("component")["cifar10"]
    for comp in ("VKDNW", "expressivity"):
        assert t.loc[("tau-b, NaN/-inf last (committed Table 4)", comp), "kt"] == pytest.approx(committed[comp])
    assert t.loc[("score negated", "VKDNW"), "kt"] == pytest.approx(-committed["VKDNW"])
    assert t.loc[("nets with a zero lambda decile only", "VKDNW"), "nets"] == 10
    assert t.loc[("tau-b, NaN/-inf nets left out", "expressivity"), "nets"] == n - 3


def test_seed_spread_reads_one_seed_against_the_mean(tmp_path, capsys):
    """Mean ± std over the seeds, seed 1's deviation from it, and the paper's number beside."""
    from vkdnw.cli import main
    from vkdnw.io import write_parquet
    from vkdnw.tools.seed_spread import seed_spread

    base = {"type": "S", "table": "main", "dataset": "ImageNet16-120", "n_nets": 1000, "top1": 40.0,
            "input": "random", "batch_size": "64"}
    files = []
    for seed, kt in [(1, 0.60), (2, 0.64), (3, 0.62)]:
        rows = [{**base, "method": "AZ-NAS", "seed": seed, "subset": "unique", "kt": kt, "spr": kt + 0.2,
                 "ndcg": 0.5},
                {**base, "method": "AZ-NAS", "seed": seed, "subset": "all", "kt": 0.0, "spr": 0.0, "ndcg": 0.0},
                {**base, "method": "VKDNW_single", "seed": seed, "subset": "unique", "kt": 0.5, "spr": 0.7,
                 "ndcg": 0.5, "batch_size": "8"}]
        files.append(tmp_path / f"seed{seed}.parquet")
        write_parquet(pd.DataFrame(rows), files[-1])
    t = seed_spread(files).set_index("method")
    assert t.loc["AZ-NAS", "kt"] == pytest.approx(0.62) and t.loc["AZ-NAS", "n_seeds"] == 3
    assert t.loc["AZ-NAS", "kt_std"] == pytest.approx(0.02)
    assert t.loc["AZ-NAS", "kt_seed1_dev"] == pytest.approx(-0.02)
    assert t.loc["AZ-NAS", "kt_paper"] == pytest.approx(0.673)  # Table 1, ImageNet16-120
    assert t.loc["VKDNW_single", "kt_paper"] == pytest.approx(0.615)  # Table 5 at batch 8
    with pytest.raises(ValueError, match="at least two seeds"):
        seed_spread(files[:1])
    with pytest.raises(ValueError, match="seed 4"):
        seed_spread(files, reference_seed=4)
    assert main(["seed-spread", "--metrics", *map(str, files), "--out", str(tmp_path / "s.csv"),
                 "--out-md", str(tmp_path / "s.md")]) in (0, None)
    assert "| AZ-NAS | ImageNet16-120 | 0.620 ± 0.020 | -0.020 | 0.673 |" in (tmp_path / "s.md").read_text()
