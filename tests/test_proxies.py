"""The zero-cost proxies of Table 1: determinism, definitions checked against independent
formulations, and the dataset loaders they read real images from."""

import math
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch import nn

from vkdnw.data import input_batches, load_train_set, write_surrogate_set
from vkdnw.proxies import aznas, grasp, jacov, naswot, snip, tenas, zico
from vkdnw.proxies.common import fresh_net
from vkdnw.proxies.catalog import code_digest, group
from vkdnw.proxies.registry import NetContext, get_proxy, list_proxies, proxy_version, register_proxy
from vkdnw.stages.scoring import score_net
from vkdnw.spaces.nb201 import dataset_info
from vkdnw.config import check_settings
from vkdnw.plan import group_settings, proxy_settings

DENSE = "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"
SMALL = "|nor_conv_1x1~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"
IDENTITY = "|skip_connect~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"
ZERO_COST = ["jacov", "aznas", "gradnorm", "grasp", "snip", "synflow", "naswot", "zen", "zico", "tenas"]


def _ctx(arch=DENSE, dataset="ImageNet16-120", seed=1, batch=4, data=None, proxy="x") -> NetContext:
    info = {"ImageNet16-120": (120, 16), "cifar10": (10, 32), "cifar100": (100, 32)}[dataset]
    return NetContext(arch, dataset, seed, *info, {proxy: {"batch_size": batch, "data": data}})


def test_registry_has_every_table1_proxy():
    # vkdnw_real is Table 5's real-input ablation of VKDNW, not a Table 1 row.
    assert set(ZERO_COST) | {"size", "vkdnw", "vkdnw_real"} == set(list_proxies())
    with pytest.raises(ValueError, match="unknown proxy 'nope'"):
        get_proxy("nope")


@pytest.mark.parametrize("proxy", ZERO_COST)
def test_proxy_is_finite_deterministic_and_records_input(proxy):
    spec = get_proxy(proxy)
    ctx = _ctx(proxy=proxy)
    a, b = score_net(proxy, ctx), score_net(proxy, ctx)
    assert a["error"] == ""
    for col in spec.columns:
        if col == "input":
            assert a[col] in ("random", "ones")
        else:
            assert isinstance(a[col], float) and not math.isnan(a[col]) and a[col] == b[col]
    other = score_net(proxy, _ctx(proxy=proxy, seed=2))
    assert any(other[c] != a[c] for c in spec.columns if c != "input")  # the init is per seed


def test_every_group_declares_a_version_the_scoring_params_carry():
    for name in list_proxies():
        spec = get_proxy(name)
        assert isinstance(spec.version, int) and spec.version >= 1
        assert proxy_version(name) == f"{name} v{spec.version}"
    for bad in (0, "1", 1.0, True):
        with pytest.raises(ValueError, match="version must be a positive integer"):
            register_proxy("test_bad_version", version=bad, columns=("x",))


def test_the_planning_catalog_reads_what_the_registry_registers(tmp_path):
    """The DAG reads each group's name, version, input and precision from the decorator's source
    (no torch); the registry imports the modules. Both must agree, group by group."""
    from vkdnw.proxies import catalog

    assert catalog.group_names() == list_proxies()
    for name in list_proxies():
        spec, info = get_proxy(name), catalog.group(name)
        assert (info.version, info.paper_input, info.float64) == (spec.version, spec.paper_input, spec.float64)
        assert (info.settings, info.job_keys) == (spec.settings, spec.job_keys)
        assert (info.ranks, info.component_ranks) == (spec.ranks, spec.component_ranks)
        assert catalog.proxy_version(name) == proxy_version(name)
    with pytest.raises(ValueError, match="unknown proxy 'nope'; registered: "):
        catalog.group("nope")
    module = tmp_path / "late.py"
    module.write_text("V = 2\n@register_proxy('late', version=V, columns=('x',))\ndef f(ctx):\n    return {}\n")
    with pytest.raises(ValueError, match="late.py: register_proxy's version must be a literal"):
        catalog.module_groups(module)


def test_code_digest_ignores_comments_and_docstrings_only(tmp_path):
    base = 'def f(x):\n    """Doc."""\n    return x + 1\n'
    variants = {
        "same": base,
        "comment": "# why\n" + base.replace("return x + 1", "return x + 1  # note"),
        "docstring": '"""Module doc."""\n' + base.replace("Doc.", "Another doc."),
        "no docstring": "def f(x):\n    return x + 1\n",
        "code": base.replace("x + 1", "x + 2"),
        "string value": 'def f(x):\n    y = "a"\n    return x + 1\n',
    }
    digests = {}
    for name, text in variants.items():
        (tmp_path / f"{name}.py").write_text(text)
        digests[name] = code_digest(tmp_path / f"{name}.py")
    assert digests["same"] == digests["comment"] == digests["docstring"] == digests["no docstring"]
    assert digests["code"] != digests["same"] and digests["string value"] != digests["same"]
    (tmp_path / "schema.yaml").write_text("# a comment counts outside Python\n")
    assert code_digest(tmp_path / "schema.yaml") == (tmp_path / "schema.yaml").read_bytes()


def test_snip_equals_mask_gradient():
    """SNIP's reference: |dL/dmask| with every conv/linear weight multiplied by a ones mask."""
    ctx = _ctx(proxy="snip")
    ours = snip.score_snip(ctx)["snip"]
    net = fresh_net(ctx).train()
    b = input_batches(ctx.arch_str, ctx.dataset, ctx.seed, 4)[0]
    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    masks = [torch.ones_like(m.weight, requires_grad=True) for m in layers]
    params = dict(net.named_parameters())
    names = {id(p): n for n, p in params.items()}
    new = {names[id(m.weight)]: m.weight.detach() * k for m, k in zip(layers, masks)}
    out = torch.func.functional_call(net, {**{n: p.detach() for n, p in params.items()}, **new}, (b.x,))
    grads = torch.autograd.grad(nn.functional.cross_entropy(out, b.y), masks)
    ref = sum(float(g.abs().sum()) for g in grads)
    assert ours == pytest.approx(ref, rel=1e-5)


def test_grasp_equals_two_pass_reference():
    """GraSP as zero-cost-nas computes it: g from a first pass, Hg from a second forward."""
    ctx = _ctx(proxy="grasp")
    ours = grasp.score_grasp(ctx)["grasp"]
    net = fresh_net(ctx).train()
    b = input_batches(ctx.arch_str, ctx.dataset, ctx.seed, 4)[0]
    weights = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    g1 = torch.autograd.grad(nn.functional.cross_entropy(net(b.x), b.y), weights)
    g2 = torch.autograd.grad(nn.functional.cross_entropy(net(b.x), b.y), weights, create_graph=True)
    z = sum((a.detach() * c).sum() for a, c in zip(g1, g2))
    z.backward()
    ref = sum(float((-w.detach() * w.grad).sum()) for w in weights)
    assert ours == pytest.approx(ref, rel=1e-4)


def test_jacov_of_uncorrelated_jacobians():
    n = 5
    rows = np.eye(n) - 1.0 / n  # centred one-hot rows: pairwise correlation -1/(n-1)
    v = np.linalg.eigvalsh(np.corrcoef(rows))
    expected = -np.sum(np.log(v + 1e-5) + 1 / (v + 1e-5))
    assert jacov.jacov_score(rows) == pytest.approx(expected)
    # Two identical Jacobians make C singular: a huge penalty.
    assert jacov.jacov_score(np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [3.0, 1.0, 0.0]])) < -1e4


def test_naswot_kernel_diagonal_counts_relu_units():
    """K[i, i] = number of ReLU units (each unit agrees with itself), so logdet <= B log(units)."""
    ctx = _ctx(proxy="naswot")
    score = naswot.score_naswot(ctx)["naswot"]
    net = fresh_net(ctx)
    units = []
    hooks = [m.register_forward_hook(lambda m, i, o: units.append(i[0][0].numel()))
             for m in net.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        net(torch.zeros(1, 3, 16, 16))
    for h in hooks:
        h.remove()
    assert 0 < score <= 4 * math.log(sum(units)) + 1e-9


@pytest.mark.parametrize("units", [1, 37, 4096])
def test_naswot_one_matmul_kernel_is_the_two_matmul_definition_to_the_bit(units, monkeypatch):
    codes = torch.rand(9, units, generator=torch.Generator().manual_seed(units)) > 0.3
    assert torch.equal(naswot.code_kernel(codes), naswot.code_kernel_reference(codes))
    # Past float32's exact integer range the kernel falls back to float64, still exact.
    monkeypatch.setattr(naswot, "EXACT_FLOAT32_COUNT", 2)
    assert torch.equal(naswot.code_kernel(codes), naswot.code_kernel_reference(codes))


def test_zico_from_hand_made_gradients():
    g = torch.tensor([[1.0, 2.0, 5.0], [3.0, 2.0, -1.0]])  # std: 1, 0, 3; mean|g|: 2, 2, 3
    assert zico.zico_from_grads([g]) == pytest.approx(math.log(2 / 1 + 3 / 3))
    assert zico.zico_from_grads([torch.ones(2, 3)]) == 0.0  # no variation: layer skipped


def test_aznas_identity_cell_has_minus_inf_trainability():
    row = aznas.score_aznas(_ctx(IDENTITY, proxy="aznas"))
    assert row["trainability"] == -math.inf and math.isfinite(row["expressivity"])
    # Batch 16: with 4 images the last stage has fewer positions than channels, the covariance
    # is singular and rounding can make an eigenvalue negative (NaN entropy -> -inf, as the reference).
    row = aznas.score_aznas(_ctx(SMALL, proxy="aznas", batch=16))
    assert all(math.isfinite(row[c]) for c in ("expressivity", "progressivity", "trainability"))


@pytest.mark.parametrize("jacobian", [tenas.ntk_jacobian, tenas.ntk_jacobian_batched])
def test_ntk_jacobian_equals_the_references_backward_per_sample(jacobian):
    # The reference: a fresh forward and backward of logits[i].sum() per sample, grads summed
    # into .grad (BN in train mode couples the batch, so each row depends on all of x).
    ctx = _ctx(SMALL, proxy="tenas")
    net = fresh_net(ctx).train()
    x = input_batches(ctx.arch_str, ctx.dataset, ctx.seed, 4)[0].x
    fast = jacobian(net, x)
    params = [p for n, p in net.named_parameters() if "weight" in n]
    rows = []
    for i in range(4):
        net.zero_grad()
        net(x)[i].sum().backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in params]))
    torch.testing.assert_close(fast, torch.stack(rows), rtol=1e-4, atol=1e-6)


def test_linear_regions_counts_distinct_activation_patterns():
    net = fresh_net(_ctx(SMALL)).train()
    x = torch.randn(1, 3, 16, 16).repeat(4, 1, 1, 1)
    assert tenas.linear_regions(net, x) == pytest.approx(1.0)  # four copies: one pattern
    assert tenas.linear_regions(net, torch.randn(4, 3, 16, 16)) == pytest.approx(4.0)


# ----------------------------------------------------------------------------- datasets


def _write(path, obj):
    with open(path, "wb") as fh:
        pickle.dump(obj, fh)


@pytest.fixture
def tiny_datasets(tmp_path):
    rng = np.random.default_rng(0)
    c10 = tmp_path / "cifar-10-batches-py"
    c10.mkdir()
    for i in range(1, 6):
        _write(c10 / f"data_batch_{i}", {"data": rng.integers(0, 256, (8, 3072), dtype=np.uint8),
                                          "labels": list(rng.integers(0, 10, 8))})
    c100 = tmp_path / "cifar-100-python"
    c100.mkdir()
    _write(c100 / "train", {"data": rng.integers(0, 256, (20, 3072), dtype=np.uint8),
                            "fine_labels": list(rng.integers(0, 100, 20)), "coarse_labels": [0] * 20})
    in16 = tmp_path / "ImageNet16"
    in16.mkdir()
    for i in range(1, 11):
        labels = np.r_[np.arange(1, 6), [500, 1000, 121]]  # three labels outside the 120 classes
        _write(in16 / f"train_data_batch_{i}", {"data": rng.integers(0, 256, (8, 768), dtype=np.uint8),
                                                 "labels": list(labels), "mean": np.zeros(768)})
    return {"cifar10": c10, "cifar100": c100, "ImageNet16-120": in16}


def test_loaders_read_each_format(tiny_datasets):
    x, y, kind = load_train_set("cifar10", str(tiny_datasets["cifar10"]))
    assert x.shape == (40, 3, 32, 32) and y.max() < 10 and kind == "real"
    x, y, _ = load_train_set("cifar100", str(tiny_datasets["cifar100"]))
    assert x.shape == (20, 3, 32, 32) and y.max() < 100
    x, y, _ = load_train_set("ImageNet16-120", str(tiny_datasets["ImageNet16-120"]))
    assert x.shape == (50, 3, 16, 16) and set(y.tolist()) == {0, 1, 2, 3, 4}  # 1-based, first 120 kept


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "ImageNet16-120"])
def test_surrogate_folder_reads_as_its_format_and_says_surrogate(tmp_path, dataset):
    folder = write_surrogate_set(dataset, tmp_path / dataset, n_images=40, seed=3)
    x, y, kind = load_train_set(dataset, str(folder))
    info = dataset_info(dataset)
    assert kind == "surrogate" and x.shape == (40, 3, info["resolution"], info["resolution"])
    assert y.min() >= 0 and y.max() < info["num_classes"]  # ImageNet16's 1-based labels all kept
    # Natural patches, not noise: neighbouring pixels correlate strongly.
    f = x.astype(float)
    assert np.corrcoef(f[..., :-1].ravel(), f[..., 1:].ravel())[0, 1] > 0.8
    again = write_surrogate_set(dataset, tmp_path / "again", n_images=40, seed=3)
    np.testing.assert_array_equal(load_train_set(dataset, str(again))[0], x)
    other = write_surrogate_set(dataset, tmp_path / "other", n_images=40, seed=4)
    assert not np.array_equal(load_train_set(dataset, str(other))[0], x)
    ctx = _ctx(dataset=dataset, proxy="jacov", data=str(folder))
    assert score_net("jacov", ctx)["input"] == "surrogate"


def test_a_folder_mixing_surrogate_and_real_files_is_refused(tmp_path, tiny_datasets):
    import shutil

    mixed = shutil.copytree(tiny_datasets["cifar10"], tmp_path / "mixed")
    write_surrogate_set("cifar10", tmp_path / "s", n_images=10)
    shutil.copy(tmp_path / "s" / "data_batch_2", mixed / "data_batch_2")
    with pytest.raises(ValueError, match="mixes surrogate and real"):
        load_train_set("cifar10", str(mixed))


def test_real_batches_are_normalised_and_deterministic(tiny_datasets):
    path = str(tiny_datasets["cifar10"])
    a = input_batches(DENSE, "cifar10", 1, 8, n_batches=2, data_path=path)
    b = input_batches(DENSE, "cifar10", 1, 8, n_batches=2, data_path=path)
    assert [k.kind for k in a] == ["real", "real"]
    torch.testing.assert_close(a[1].x, b[1].x)
    assert a[0].x.shape == (8, 3, 32, 32) and abs(float(a[0].x.mean())) < 1.0
    other = input_batches(SMALL, "cifar10", 1, 8, data_path=path)[0]
    assert not torch.equal(other.x, a[0].x)  # each net draws its own images
    with pytest.raises(ValueError, match="fewer than 48"):
        input_batches(DENSE, "cifar10", 1, 48, data_path=path)


def test_missing_or_bad_data_files_are_clear_errors(tmp_path, tiny_datasets):
    with pytest.raises(ValueError, match="not a directory"):
        load_train_set("cifar10", str(tmp_path / "nowhere"))
    broken = tmp_path / "broken"
    broken.mkdir()
    _write(broken / "train", {"labels": [1]})
    with pytest.raises(ValueError, match="'data' array"):
        load_train_set("cifar100", str(broken))
    with pytest.raises(ValueError, match="missing .*data_batch_1"):
        load_train_set("cifar10", str(broken))


def test_real_input_is_recorded_in_the_row(tiny_datasets):
    ctx = _ctx(dataset="cifar10", proxy="jacov", data=str(tiny_datasets["cifar10"]))
    assert score_net("jacov", ctx)["input"] == "real"


VKDNW_PAPER = {"batch_size": 64, "n_tensors": 128, "position": 0.0, "per_tensor": 1, "fim": "reference"}


def test_settings_give_data_only_to_the_groups_whose_input_is_real():
    batch32 = {g: {"batch_size": 32} for g in ("jacov", "naswot")}
    cfg = {"settings": {**batch32, "vkdnw": {"batch_size": 8}}, "data": {"cifar10": "/d/c10"}}
    assert proxy_settings(cfg, "jacov", "cifar10") == {"jacov": {"batch_size": 32, "data": "/d/c10"}}
    assert proxy_settings(cfg, "jacov", "cifar100") == {"jacov": {"batch_size": 32, "data": None}}
    assert proxy_settings(cfg, "naswot", "cifar10") == {"naswot": {"batch_size": 32, "data": None}}
    real = {**cfg, "settings": {"naswot": {"input": "real"}, "jacov": {"input": "random"}}}
    assert proxy_settings(real, "naswot", "cifar10") == {"naswot": {"batch_size": 64, "data": "/d/c10"}}
    assert proxy_settings(real, "jacov", "cifar10")["jacov"]["data"] is None
    assert proxy_settings(cfg, "vkdnw", "cifar10") == {"vkdnw": {**VKDNW_PAPER, "batch_size": 8}}
    assert proxy_settings(cfg, "size", "cifar10") == {}


def test_registered_defaults_are_the_papers_and_the_job_keys_follow_them():
    from vkdnw.proxies.registry import get_proxy

    assert group("vkdnw").settings == get_proxy("vkdnw").settings == VKDNW_PAPER
    assert group("vkdnw_real").settings == VKDNW_PAPER and group("vkdnw_real").shares == "vkdnw"
    assert get_proxy("zico").settings == {"batch_size": 64, "input": "real", "dtype": "float32"}
    assert get_proxy("naswot").settings == {"batch_size": 64, "input": "random"}
    assert get_proxy("size").settings == {}
    assert get_proxy("zico").job_keys == ("batch_size", "dtype", "data")
    assert get_proxy("vkdnw_real").job_keys == (*VKDNW_PAPER, "data")
    assert proxy_settings({}, "jacov", "cifar10") == {"jacov": {"batch_size": 64, "data": None}}


def test_a_dataset_overlay_changes_only_the_groups_and_datasets_it_names():
    cfg = {"settings": {"vkdnw": {"batch_size": 8}}, "per_dataset": {"cifar10": {"settings": {"aznas": {"batch_size": 16}}}}}
    assert proxy_settings(cfg, "aznas", "cifar10") == {"aznas": {"batch_size": 16, "data": None}}
    # Another group or dataset keeps the settings JSON it had without the overlay: its blocks stay.
    plain = {"settings": {"vkdnw": {"batch_size": 8}}}
    for proxy, dataset in [("aznas", "ImageNet16-120"), ("synflow", "cifar10"), ("vkdnw", "cifar10")]:
        assert proxy_settings(cfg, proxy, dataset) == proxy_settings(plain, proxy, dataset)
    # The overlay wins over the run-wide block, key by key.
    both = {"settings": {"vkdnw": {"batch_size": 8, "n_tensors": 64}},
            "per_dataset": {"cifar100": {"settings": {"vkdnw": {"batch_size": 16}}}}}
    assert group_settings(both, "vkdnw", "cifar100") == {**VKDNW_PAPER, "batch_size": 16, "n_tensors": 64}
    assert group_settings(both, "vkdnw", "cifar10") == {**VKDNW_PAPER, "batch_size": 8, "n_tensors": 64}


def test_dtype_settings_reach_only_the_groups_and_datasets_they_name():
    cfg = {"settings": {"grasp": {"dtype": "float64"}},
           "per_dataset": {"cifar10": {"settings": {"zico": {"dtype": "float64"}}},
                           "cifar100": {"settings": {"grasp": {"dtype": "float32"}}}}}
    assert proxy_settings(cfg, "zico", "cifar10") == {"zico": {"batch_size": 64, "data": None, "dtype": "float64"}}
    assert proxy_settings(cfg, "grasp", "cifar10")["grasp"]["dtype"] == "float64"
    # float32, named or not, is the settings JSON of a config without the keys: blocks stay.
    for proxy, dataset in [("zico", "ImageNet16-120"), ("grasp", "cifar100"), ("snip", "cifar10")]:
        assert proxy_settings(cfg, proxy, dataset) == proxy_settings({}, proxy, dataset)
    check_settings(cfg)
    with pytest.raises(ValueError, match=r"at settings/snip: snip has no setting 'dtype'"):
        check_settings({"settings": {"snip": {"dtype": "float64"}}})
    with pytest.raises(ValueError, match=r"at per_dataset/cifar10/settings/tenas: tenas has no setting 'dtype'"):
        check_settings({"per_dataset": {"cifar10": {"settings": {"tenas": {"dtype": "float64"}}}}})


@pytest.mark.parametrize("proxy", ["zico", "grasp"])
def test_float64_is_the_float32_score_without_its_rounding(proxy):
    ctx = _ctx(dataset="cifar10", batch=8, proxy=proxy)
    ctx64 = NetContext(*[getattr(ctx, f) for f in ("arch_str", "dataset", "seed", "num_classes", "resolution")],
                       {proxy: {"batch_size": 8, "data": None, "dtype": "float64"}})
    s32, s64, again = (score_net(proxy, c)[proxy] for c in (ctx, ctx64, ctx64))
    assert s64 == again and s64 != s32  # another computation of the same number...
    assert math.isclose(s64, s32, rel_tol=2e-2)  # ...within float32's rounding of it
    # float32 still runs in float32 (the committed scores' path) and float64 in float64.
    seen = []
    handle = torch.nn.modules.module.register_module_forward_pre_hook(lambda m, a: seen.append(a[0].dtype))
    try:
        score_net(proxy, ctx64)
    finally:
        handle.remove()
    assert seen and set(seen) == {torch.float64}


def test_bench_proxies_reports_median_cost_per_proxy_and_dataset(tmp_path):
    from vkdnw.tools.bench import bench_proxies

    out = tmp_path / "costs.csv"
    summary = bench_proxies(proxies=["synflow", "naswot"], datasets=["ImageNet16-120"], n_archs=2, seed=0,
                            batch_size=2, threads=1, out=str(out))
    assert list(summary.index.get_level_values("proxy")) == ["synflow", "naswot"]
    assert (summary["median"] > 0).all() and (summary["size"] == 2).all()
    per_net = pd.read_csv(out)
    assert len(per_net) == 4 and (per_net["device"] == "cpu").all()


def test_bench_proxies_times_each_precision_on_the_same_nets(tmp_path):
    from vkdnw.tools.bench import bench_proxies

    out = tmp_path / "costs.csv"
    summary = bench_proxies(proxies=["zico"], datasets=["ImageNet16-120"], n_archs=2, seed=0, batch_size=2,
                            threads=1, out=str(out), dtypes=("float32", "float64"))
    assert list(summary.index.get_level_values("dtype")) == ["float32", "float64"]
    assert summary.loc[("zico", "ImageNet16-120", "float32"), "median_ratio"] == 1.0
    assert summary.loc[("zico", "ImageNet16-120", "float64"), "median_ratio"] > 0
    assert summary.loc[("zico", "ImageNet16-120", "float32"), "max_rel_diff"] == 0.0
    assert 0 < summary.loc[("zico", "ImageNet16-120", "float64"), "max_rel_diff"] < 2e-2
    per_net = pd.read_csv(out)
    assert len(per_net) == 4 and (per_net.groupby("arch_str")["dtype"].nunique() == 2).all()
    with pytest.raises(ValueError, match=r"\['snip'\] have no float64 path"):
        bench_proxies(proxies=["zico", "snip"], datasets=["ImageNet16-120"], n_archs=1, seed=0, batch_size=2,
                      threads=1, dtypes=("float32", "float64"))


def test_bench_proxies_with_a_config_times_the_runs_own_settings(tmp_path, monkeypatch):
    """--config: each group on each dataset with the settings that run's scoring jobs get."""
    from vkdnw.cli import main
    from vkdnw.plan import zero_cost_entry

    (tmp_path / "run.yaml").write_text(yaml.safe_dump(
        {"settings": {"zico": {"batch_size": 4}}, "per_dataset": {"cifar10": {"settings": {"zico": {"dtype": "float64"}}}}}))
    monkeypatch.chdir(tmp_path)  # no config.yaml here: the preset over the schema alone
    out = tmp_path / "costs.csv"
    assert main(["bench", "proxies", "zico", "--config", "run.yaml", "--dataset", "cifar10", "ImageNet16-120",
                 "--n-archs", "1", "--threads", "1", "--out", str(out)]) == 0
    per_net = pd.read_csv(out).set_index("dataset")
    assert per_net.loc["cifar10", "dtype"] == "float64" and per_net.loc["ImageNet16-120", "dtype"] == "float32"
    arch = per_net.loc["cifar10", "arch_str"]
    ctx = NetContext(arch, "cifar10", 0, 10, 32, {"zico": zero_cost_entry(4, None, "float64")})
    assert per_net.loc["cifar10", "value"] == pytest.approx(score_net("zico", ctx)["zico"], rel=1e-12)
    with pytest.raises(SystemExit, match="drop --batch-size"):
        main(["bench", "proxies", "zico", "--config", "run.yaml", "--batch-size", "8"])


def _bench_two_paths(mode: str, tmp_path, capsys) -> pd.DataFrame:
    """`vkdnw bench <mode>` on two nets: its per-net CSV, after checking the summary printed."""
    from vkdnw.cli import main

    out = tmp_path / "bench.csv"
    assert main(["bench", mode, "--dataset", "ImageNet16-120", "--n-archs", "2", "--batch-size", "4",
                 "--threads", "1", "--out", str(out)]) == 0
    assert "geomean_ratio" in capsys.readouterr().out
    df = pd.read_csv(out)
    assert len(df) == 2
    return df


def test_bench_ntk_times_both_jacobian_paths_on_the_same_nets(tmp_path, capsys):
    df = _bench_two_paths("ntk", tmp_path, capsys)
    assert (df["loop_s"] > 0).all() and (df["batched_s"] > 0).all()
    assert (df["cond_rel_diff"] < 1e-5).all()  # both paths give the same score


def test_bench_naswot_kernel_times_both_kernels_and_finds_the_same_score(tmp_path, capsys):
    df = _bench_two_paths("naswot-kernel", tmp_path, capsys)
    assert (df["reference_s"] > 0).all() and (df["fast_s"] > 0).all()
    assert df["identical"].all()


def test_vkdnw_real_is_vkdnw_on_noise_and_reads_images_when_given(tiny_datasets):
    """Table 5's real-input VKDNW: without a data path it is exactly VKDNW (same noise stream);
    with one, it sees training images and says so."""
    from vkdnw.proxies.vkdnw import score_vkdnw

    s = {"batch_size": 4, "n_tensors": 16}
    ctx = NetContext(DENSE, "cifar10", 1, 10, 32, {"vkdnw": s, "vkdnw_real": {**s, "data": None}})
    noise, ref = score_net("vkdnw_real", ctx), score_vkdnw(ctx)
    assert noise["input"] == "random" and all(noise[k] == ref[k] for k in ref)
    real_ctx = NetContext(DENSE, "cifar10", 1, 10, 32, {"vkdnw_real": {**s, "data": str(tiny_datasets["cifar10"])}})
    real = score_net("vkdnw_real", real_ctx)
    assert real["input"] == "real" and real["vkdnw"] != ref["vkdnw"] and real["aleph"] == ref["aleph"]
    # The real-input twin shares VKDNW's settings, defaults and config alike.
    assert proxy_settings({"settings": {"vkdnw": s}, "data": {"cifar10": "/d"}}, "vkdnw_real", "cifar10") == {
        "vkdnw_real": {**VKDNW_PAPER, **s, "data": "/d"}}


def test_files_hash_follows_code_not_names_or_places(tmp_path, monkeypatch):
    """The MBV2 rules' params: a moved or renamed module keeps the hash, a code change moves it,
    a comment or docstring does not."""
    from vkdnw.proxies import catalog

    monkeypatch.setattr(catalog, "PACKAGE_ROOT", tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.py").write_text("def f():\n    return 1\n")
    (tmp_path / "b.py").write_text("X = 2\n")
    before = catalog.files_hash(["a.py", "b.py"])
    (tmp_path / "a.py").rename(tmp_path / "sub/renamed.py")
    assert catalog.files_hash(["sub/renamed.py", "b.py"]) == before
    (tmp_path / "b.py").write_text('"""A docstring."""\nX = 2  # a comment\n')
    assert catalog.files_hash(["sub/renamed.py", "b.py"]) == before
    (tmp_path / "b.py").write_text("X = 3\n")
    assert catalog.files_hash(["sub/renamed.py", "b.py"]) != before
