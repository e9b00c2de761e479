"""MobileNetV2 space (Table 2): structures, FLOPs, mutation, scoring and the resumable search."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import rankdata

from vkdnw.mbv2.evolution import (RunningAggregate, SearchSettings, aggregate, run_search, top_stable, work_dir_for,
                             write_outputs)
from vkdnw.mbv2.score import (ScoreSettings, fresh_net, jacobian_forward, noise, sample_tensors, score_structure,
                              vkdnw_components)
from vkdnw.proxies.fisher import Element, jacobian_fast
from vkdnw.proxies.vkdnw_reference import jacobian_reference
from vkdnw.spaces import mbv2

# (structure, complexity) pairs printed by the reference's own search log
# (cvlab-yonsei/AZ-NAS, ImageNet_MBV2/save_dir/ETF24_...-res-123/evolution_search.log:
# the best structure and its max_complexity at loop_count 100, 500, 600, 1800, 2700, 3000).
REFERENCE_FLOPS = [
    ("SuperConvK3BNRELU(3,16,2,1)SuperResIDWE4K3(16,32,2,24,3)SuperResIDWE6K3(32,48,2,32,1)"
     "SuperResIDWE6K3(48,96,2,48,1)SuperResIDWE4K5(96,320,2,288,1)SuperConvK1BNRELU(320,2048,1,1)", 3.70463e8),
    ("SuperConvK3BNRELU(3,16,2,1)SuperResIDWE2K3(16,32,2,24,5)SuperResIDWE4K3(32,64,2,80,2)"
     "SuperResIDWE1K3(64,80,2,120,2)SuperResIDWE4K5(80,88,2,240,3)SuperConvK1BNRELU(88,2048,1,1)", 4.44887e8),
    ("SuperConvK3BNRELU(3,8,2,1)SuperResIDWE1K7(8,32,2,24,4)SuperResIDWE4K7(32,16,2,24,1)"
     "SuperResIDWE4K5(16,48,2,72,2)SuperResIDWE4K5(48,640,2,192,1)SuperConvK1BNRELU(640,2048,1,1)", 3.43947e8),
    ("SuperConvK3BNRELU(3,16,2,1)SuperResIDWE2K5(16,24,2,40,2)SuperResIDWE6K5(24,40,2,40,3)"
     "SuperResIDWE4K5(40,48,2,80,1)SuperResIDWE4K5(48,224,2,152,4)SuperConvK1BNRELU(224,2048,1,1)", 4.10176e8),
    ("SuperConvK3BNRELU(3,8,2,1)SuperResIDWE4K5(8,16,2,16,1)SuperResIDWE4K3(16,96,2,64,1)"
     "SuperResIDWE2K3(96,80,2,64,5)SuperResIDWE4K7(80,240,2,288,3)SuperConvK1BNRELU(240,2048,1,1)", 4.04824e8),
    ("SuperConvK3BNRELU(3,16,2,1)SuperResIDWE4K5(16,16,2,16,1)SuperResIDWE4K7(16,40,2,24,3)"
     "SuperResIDWE1K7(40,80,2,128,3)SuperResIDWE4K3(80,400,2,192,3)SuperConvK1BNRELU(400,2048,1,1)", 4.27988e8),
]
TOY = ScoreSettings(resolution=32, batch_size=2, num_classes=10)


def test_structure_string_round_trips_and_bad_strings_say_where():
    s = mbv2.parse(mbv2.INIT_STRUCTURE)
    assert mbv2.to_str(s) == mbv2.INIT_STRUCTURE and mbv2.num_layers(s) == 6
    with pytest.raises(ValueError, match="bad MBV2 structure at char 26"):
        mbv2.parse("SuperConvK3BNRELU(3,8,2,1)SuperResIDW(8,32,2,8,1)")
    with pytest.raises(ValueError, match="channel mismatch"):
        mbv2.parse("SuperConvK3BNRELU(3,8,2,1)SuperResIDWE6K3(16,32,2,8,1)SuperConvK1BNRELU(32,2048,1,1)")
    with pytest.raises(ValueError, match="expansion must be in"):
        mbv2.parse("SuperConvK3BNRELU(3,8,2,1)SuperResIDWE3K3(8,32,2,8,1)SuperConvK1BNRELU(32,2048,1,1)")


@pytest.mark.parametrize("structure,flops", REFERENCE_FLOPS)
def test_flops_match_the_reference_search_log(structure, flops):
    s = mbv2.parse(structure)
    # The log prints 6 significant digits.
    assert mbv2.flops_reference(s, 224, 1000) == pytest.approx(flops, rel=5e-6)


@pytest.mark.parametrize("structure", [mbv2.INIT_STRUCTURE, REFERENCE_FLOPS[0][0], REFERENCE_FLOPS[2][0]])
def test_library_flop_counter_agrees_with_the_reference_counting_within_1pct(structure):
    s = mbv2.parse(structure)
    counted = mbv2.count_macs(mbv2.build_network(s), 224)
    assert abs(counted - mbv2.flops_reference(s, 224, 1000)) / mbv2.flops_reference(s, 224, 1000) < 0.01


def test_network_has_the_reference_units():
    net = mbv2.build_network(mbv2.INIT_STRUCTURE, num_classes=10)
    # stem + 4 blocks x 2 units + head; every unit's output is one AZ-NAS feature map
    assert len(net.layers) == 10
    feats = net.layer_outputs(torch.randn(2, 3, 64, 64))
    assert [f.shape[1] for f in feats] == [8, 8, 32, 32, 48, 48, 96, 96, 128, 2048]
    assert [f.shape[-1] for f in feats] == [32, 16, 16, 8, 8, 4, 4, 2, 2, 2]
    # first unit of each block projects its shortcut (ResBlockProj), BN eps is the reference's
    assert all(net.layers[i].proj is not None for i in (1, 3, 5, 7))
    assert all(m.eps == 1e-3 for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert len(list(net.named_parameters())) == 112


def test_split_and_mutation_follow_the_reference():
    s = mbv2.parse("SuperConvK3BNRELU(3,8,2,1)SuperResIDWE6K3(8,32,2,8,7)SuperConvK1BNRELU(32,2048,1,1)")
    assert mbv2.to_str(mbv2.split(s)) == ("SuperConvK3BNRELU(3,8,2,1)SuperResIDWE6K3(8,32,2,8,3)"
                                         "SuperResIDWE6K3(32,32,1,8,3)SuperConvK1BNRELU(32,2048,1,1)")
    init = mbv2.parse(mbv2.INIT_STRUCTURE)
    assert [b.out_ch for b in mbv2.block_choices(init, 5)] == [2048]  # the head never changes
    choices = mbv2.block_choices(init, 1)
    assert {(b.expansion, b.kernel) for b in choices} == {(e, k) for e in (1, 2, 4, 6) for k in (3, 5, 7)}
    assert {b.sub_layers for b in choices} == {1, 2, 3}
    assert {b.out_ch for b in choices} == {80, 64, 48, 40, 32, 24, 16}
    a = [mbv2.to_str(mbv2.mutate(init, random.Random(7), 2)) for _ in range(2)]
    assert a[0] == a[1]
    rng = random.Random(0)
    for _ in range(50):
        child = mbv2.mutate(init, rng, 2)
        mbv2.validate(child)  # the channels chain
        assert str(child[-1]) .startswith("SuperConvK1BNRELU(") and child[-1].out_ch == 2048


def test_forward_mode_jacobian_equals_reverse_and_the_authors_algorithm():
    net = fresh_net(mbv2.INIT_STRUCTURE, 1, TOY)
    x = noise(mbv2.INIT_STRUCTURE, 1, TOY)
    el = [Element(n, 0) for n in sample_tensors(net, 16)]
    jf, lf = jacobian_forward(net, x, el, chunk=5)
    jr, lr = jacobian_fast(net, x, el)
    ja, la = jacobian_reference(net, x, el)
    assert torch.allclose(jf, jr, rtol=1e-10, atol=1e-12) and torch.allclose(jf, ja, rtol=1e-10, atol=1e-12)
    assert torch.allclose(lf, lr) and torch.allclose(lf, la)


def test_vkdnw_samples_tensors_like_the_reference_and_adds_aleph():
    net = fresh_net(mbv2.INIT_STRUCTURE, 1, TOY)
    names = [n for n, _ in net.named_parameters()]
    assert sample_tensors(net, 100) == random.Random(len(names)).sample(names, 100)
    assert sorted(sample_tensors(net, 128)) == sorted(names)  # fewer than 128 tensors: all
    x = noise(mbv2.INIT_STRUCTURE, 1, TOY)
    r = vkdnw_components(net, x, 128)
    assert r["aleph"] == 112 and r["vkdnw"] == pytest.approx(112 + r["vkdnw_entropy"])
    assert 0 < r["vkdnw_entropy"] <= np.log(10) + 1e-9


def test_scoring_is_a_function_of_seed_and_structure():
    a = score_structure(mbv2.INIT_STRUCTURE, 3, TOY)
    b = score_structure(mbv2.INIT_STRUCTURE, 3, TOY)
    c = score_structure(mbv2.INIT_STRUCTURE, 4, TOY)
    keys = ("vkdnw", "trainability", "progressivity", "complexity")
    assert all(a[k] == b[k] for k in keys)
    assert a["vkdnw"] != c["vkdnw"] and a["complexity"] == c["complexity"] == pytest.approx(162396776.0)
    assert a["error"] == ""


def test_aggregate_is_the_sum_of_log_ranks():
    v = np.array([[1.0, 5.0], [2.0, -np.inf], [3.0, 4.0]])
    expect = np.log(rankdata(v[:, 0]) / 3) + np.log(rankdata(v[:, 1]) / 3)
    assert np.allclose(aggregate(v), expect)
    assert np.argmax(aggregate(v)) == 2


def test_running_aggregate_and_top_equal_the_full_recomputation_bit_for_bit():
    """The search's per-iteration shortcut must pick the parents a full re-rank would: on
    values with many ties, failed (-inf) and NaN scores, after every added candidate, and
    after a resume that ranks a log prefix in one go."""
    rng = np.random.default_rng(0)
    vals = rng.integers(0, 6, size=(300, 5)).astype(float)  # few distinct values: many ties
    vals[rng.random(vals.shape) < 0.05] = -np.inf
    vals[rng.random(vals.shape) < 0.02] = np.nan
    running = RunningAggregate(len(vals), 5)
    for n in range(1, len(vals) + 1):
        running.add(vals[n - 1])
        full = aggregate(vals[:n])
        assert np.array_equal(running.aggregate(), full)
        for k in (1, 7, 40):
            assert np.array_equal(top_stable(full, k), np.argsort(full, kind="stable")[-k:])
    resumed = RunningAggregate(len(vals), 5, vals[:120])
    for row in vals[120:]:
        resumed.add(row)
    assert np.array_equal(resumed.aggregate(), aggregate(vals))
    assert np.isfinite(aggregate(vals)).all()  # NaN ranks lowest instead of spoiling a column


def test_bench_search_aggregate_times_both_ways_and_checks_they_agree(tmp_path, capsys):
    from vkdnw.cli import main

    main(["bench", "search-aggregate", "1100", "1500", "--out", str(tmp_path / "agg.csv")])
    df = pd.read_csv(tmp_path / "agg.csv")
    assert df["n"].tolist() == [1100, 1500] and (df[["full_s", "running_s"]] > 0).all().all()
    assert "iterations 1100..1500" in capsys.readouterr().out


def _toy_search(iterations: int, population: int = 6) -> SearchSettings:
    return SearchSettings(iterations=iterations, population=population, score=TOY)


def test_search_writes_the_shortlist_and_best_structure(tmp_path):
    s = _toy_search(10)
    log = run_search(s, tmp_path / "work", chunk_rows=3)
    assert len(log) == 10 and list(log["iteration"]) == list(range(10))
    assert len(list((tmp_path / "work").glob("part-*.parquet"))) == 3
    assert (log["complexity"] <= s.budget_flops).all() and (log["layers"] <= s.max_layers).all()
    summary = write_outputs(log, s, tmp_path / "out", "cpu")
    short = pd.read_parquet(tmp_path / "out/shortlist.parquet")
    assert len(short) == 6 and short["aggregate"].is_monotonic_decreasing
    assert (tmp_path / "out/best_structure.txt").read_text().strip() == short["structure"][0] == summary["best_structure"]
    assert short["aggregate"][0] == pytest.approx(log["aggregate"].max())
    # a longer search continues the shorter one's log
    longer = run_search(_toy_search(13), tmp_path / "work", chunk_rows=3)
    pd.testing.assert_frame_equal(longer.head(10).drop(columns=["aggregate", "wall_seconds", "seconds"]),
                                  log.drop(columns=["aggregate", "wall_seconds", "seconds"]))


def test_a_log_with_other_settings_is_refused(tmp_path):
    run_search(_toy_search(2), tmp_path)
    with pytest.raises(ValueError, match="other settings"):
        run_search(SearchSettings(iterations=2, population=6, seed=5, score=TOY), tmp_path)


@pytest.mark.slow
def test_killed_search_resumes_from_its_log(tmp_path):
    """SIGKILL the CLI mid-search; the rerun loses at most the candidate in flight and ends
    with the candidates an uninterrupted search scores."""
    settings = {"iterations": 24, "population": 6, "score": {"resolution": 32, "batch_size": 2, "num_classes": 10}}
    s = _toy_search(24)

    def cmd(root: Path) -> list[str]:
        return [sys.executable, "-m", "vkdnw.cli", "mbv2-search", "--settings", json.dumps(settings),
                "--work-root", str(root), "--out-dir", str(root / "out"), "--chunk-rows", "4", "--quiet"]

    killed = tmp_path / "killed"
    proc = subprocess.Popen(cmd(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = work_dir_for(s, killed)
    deadline = time.time() + 120
    while time.time() < deadline:
        parts = list(work.glob("part-*.parquet"))
        if len(parts) >= 2:
            break
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "out/best_structure.txt").exists()
    done = sum(len(pd.read_parquet(p)) for p in work.glob("*.parquet"))
    assert 8 <= done < 24
    subprocess.run(cmd(killed), check=True, timeout=300)
    clean = tmp_path / "clean"
    subprocess.run(cmd(clean), check=True, timeout=300)
    a = pd.read_parquet(killed / "out/candidates.parquet")
    b = pd.read_parquet(clean / "out/candidates.parquet")
    cols = ["iteration", "structure", "parent", "complexity", "expressivity", "progressivity", "vkdnw",
            "trainability", "aggregate"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    assert (killed / "out/best_structure.txt").read_text() == (clean / "out/best_structure.txt").read_text()
