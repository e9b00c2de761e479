"""Tables 5/8/9: which VKDNW settings the ablation rows need, and how the tables are built."""

import numpy as np
import pandas as pd
import pytest

from vkdnw.stages.ablation import Setting, ablation_rows, build_table, settings_by_id, table_settings, to_markdown
from vkdnw.io import write_parquet
from vkdnw.stages.metrics import method_inputs
from vkdnw.config import load_config


@pytest.fixture
def paper_cfg(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("settings: {vkdnw: {batch_size: 64}}\n")
    return load_config(path)


def test_paper_rows_and_shared_settings(paper_cfg):
    rows = ablation_rows(paper_cfg)
    per_table = {t: sum(r.table == t for r in rows) for t in ("table5", "table8", "table9")}
    assert per_table == {"table5": 10, "table8": 6, "table9": 11}
    with_data = {**paper_cfg, "data": {"ImageNet16-120": "/data/ImageNet16"}}
    ids = settings_by_id(with_data)
    # Batch 64 random = FIM 128 = position 0: one run; FIM 32 is not k=1 over 32 tensors
    # (that one samples its weight at random), so 27 rows need 25 runs.
    base = Setting(64, 128, 0.0, 1, "random").id
    shared = [r for r in rows if r.setting.id == base]
    assert {r.table for r in shared} == {"table5", "table8", "table9"} and len(ids) == 25
    assert ids[Setting(64, 128, 0.0, 1, "real").id].proxy == "vkdnw_real"
    # Without images the five real-input rows read their random twins' runs.
    assert len(settings_by_id(paper_cfg)) == 20
    assert Setting(8, 32, "random", 2, "random").id == "b8-t32-prandom-k2-random"
    assert table_settings(paper_cfg, "table8")[0] == "b64-t8-p0-k1-random"


def test_real_rows_get_the_data_path_and_random_rows_do_not():
    real = Setting(8, 128, 0.0, 1, "real").settings("reference", "/data/in16")
    assert real == {"vkdnw_real": {"batch_size": 8, "n_tensors": 128, "position": 0.0, "per_tensor": 1,
                                   "fim": "reference", "data": "/data/in16"}}
    assert "data" not in Setting(8, 128, 0.0, 1, "random").settings("reference", "/data/in16")["vkdnw"]


def _fake_run(tmp_path, setting: str, seed: int, kt: float, input_kind: str | None, n_nets: int = 100):
    """A run's metrics.parquet; ``input_kind`` is what its scores' input column said (None: a
    VKDNW run, which has none), turned into the metrics' ``input`` as the evaluation does."""
    run = tmp_path / "ablations" / setting / "ImageNet16-120" / f"seed{seed}"
    run.mkdir(parents=True)
    scores = pd.DataFrame({"arch_str": ["a", "b"]})
    if input_kind:
        scores["input_vkdnw_real"] = input_kind
    kind = method_inputs(scores)["VKDNW_single"][0]
    rows = [{"method": m, "subset": "unique", "table": "main", "seed": seed, "n_nets": n_nets, "input": kind,
             "kt": kt + (0.1 if m == "VKDNW" else 0), "spr": 0.8, "ndcg": 0.6, "top1": 45.0}
            for m in ("VKDNW", "VKDNW_single")]
    write_parquet(pd.DataFrame(rows), run / "metrics.parquet")
    return str(run / "metrics.parquet")


def test_table8_averages_seeds_and_puts_the_papers_numbers_beside(tmp_path, paper_cfg):
    cfg = {**paper_cfg, "ablations": {**paper_cfg["ablations"], "fim_sizes": [8, 16]}}
    runs = {}
    for n, kts in ((8, (0.5, 0.7)), (16, (0.6, 0.6))):
        sid = Setting(64, n, 0.0, 1, "random").id
        runs[sid] = [_fake_run(tmp_path, sid, s, kt, None) for s, kt in zip((1, 2), kts)]
    t = build_table(cfg, "table8", runs)
    assert t["fim_dimension"].tolist() == [8, 16]
    assert t["kt"].tolist() == pytest.approx([0.6, 0.6])  # VKDNW_single, not VKDNW
    assert t["kt_std"].iloc[0] == pytest.approx(np.std([0.5, 0.7], ddof=1)) and t["kt_std"].iloc[1] == 0
    assert t[["paper_kt", "paper_spr", "paper_ndcg"]].iloc[0].tolist() == [0.590, 0.782, 0.579]
    assert t["n_seeds"].tolist() == [2, 2] and t["input_used"].tolist() == ["random", "random"]
    # 100 nets, not the paper's 9,445: nDCG@1000 over a sample is another quantity, so the
    # markdown withholds the paper's nDCG (KT and SPR stay side by side).
    assert not t["ndcg_comparable"].any()
    row8 = next(line for line in to_markdown(t, "t8").splitlines() if line.startswith("| 8 |"))
    assert "| 0.590 | 0.782 | - (sample) |" in row8
    sid8 = Setting(64, 8, 0.0, 1, "random").id
    full_runs = {**runs, sid8: [_fake_run(tmp_path / "full", sid8, 1, 0.5, None, n_nets=9445)]}
    full = build_table(cfg, "table8", full_runs)
    assert full["ndcg_comparable"].tolist() == [True, False]
    assert "| 0.590 | 0.782 | 0.579 |" in to_markdown(full, "t8")
    # The paper's ablations are on ImageNet16-120: no paper numbers beside another dataset.
    c10 = {**cfg, "ablations": {**cfg["ablations"], "dataset": "cifar10"}}
    assert build_table(c10, "table8", runs)["paper_kt"].isna().all()


def test_table5_says_which_input_the_real_rows_really_used(tmp_path, paper_cfg):
    cfg = {**paper_cfg, "ablations": {**paper_cfg["ablations"], "batch_sizes": [8]}}
    random_id, real_id = Setting(8, 128, 0.0, 1, "random").id, Setting(8, 128, 0.0, 1, "real").id
    # No data path: the "real" row reads the random run and says it saw noise.
    runs = {random_id: [_fake_run(tmp_path, random_id, 1, 0.6, None)]}
    t = build_table(cfg, "table5", runs)
    assert t["input"].tolist() == ["random", "real"] and t["input_used"].tolist() == ["random", "random"]
    assert t["setting"].tolist() == [random_id, random_id] and t["paper_kt"].tolist() == [0.615, 0.614]
    # With images, the real row has a run of its own whose scores say what it was fed.
    with_data = {**cfg, "data": {"ImageNet16-120": "/data/ImageNet16"}}
    runs[real_id] = [_fake_run(tmp_path, real_id, 1, 0.5, "real")]
    t = build_table(with_data, "table5", runs)
    assert t["input_used"].tolist() == ["random", "real"] and t["kt"].tolist() == [0.6, 0.5]
    with pytest.raises(ValueError, match="no VKDNW_single metrics"):
        write_parquet(pd.DataFrame({"method": ["VKDNW"], "subset": ["unique"], "table": ["main"]}),
                      runs[real_id][0])
        build_table(with_data, "table5", runs)
