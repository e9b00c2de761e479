import pandas as pd
import pytest
import torch

from vkdnw.stages.benchmark import ingest, load_benchmark
from vkdnw.spaces import nb201

ARCHS = list(nb201.all_archs()[100:104])


def _official_pth(path, accs):
    """A tiny benchmark in the official NAS-Bench-201 format, built with the API's classes."""
    from nas_201_api.api_utils import ArchResults, ResultsCount

    epochs = 2
    arch2infos = {}
    for idx, arch in enumerate(ARCHS):
        both = {}
        for hp in ("less", "full"):
            res = ArchResults(idx, arch)
            for ds, split in (("cifar10", "ori-test"), ("cifar100", "x-test"), ("ImageNet16-120", "x-test")):
                for seed, delta in ((777, -0.5), (888, 0.5)):
                    rc = ResultsCount(ds, None, [0.0] * epochs, [0.0] * epochs, 1.0, 1.0, None, seed, epochs, None)
                    keys = [f"{split}@{e}" for e in range(epochs)]
                    rc.update_eval({k: accs[ds][idx] + delta for k in keys}, {k: 1.0 for k in keys},
                                   {k: 0.1 for k in keys})
                    res.update(ds, seed, rc)
            both[hp] = res.state_dict()
        arch2infos[idx] = both
    data = {"meta_archs": ARCHS, "arch2infos": arch2infos, "evaluated_indexes": list(range(len(ARCHS))),
            "total_archs": len(ARCHS)}
    torch.save(data, path)


def test_pth_through_official_api(tmp_path):
    accs = {ds: [50.0 + i for i in range(len(ARCHS))] for ds in nb201.DATASETS}
    pth = tmp_path / "NAS-Bench-201-tiny.pth"
    _official_pth(pth, accs)
    from vkdnw.io import sha256_file

    df = ingest(pth, tmp_path / "b.parquet", sha256=sha256_file(pth))
    assert df["arch_str"].tolist() == ARCHS
    for ds in nb201.DATASETS:
        assert df[f"acc_{ds}"].tolist() == pytest.approx(accs[ds])  # mean over the two trials


def test_table(tmp_path):
    csv = tmp_path / "b.csv"
    pd.DataFrame({"index": [7, 8], "arch_str": ARCHS[:2], "test_acc_cifar10": [90.0, 91.0]}).to_csv(csv, index=False)
    df = load_benchmark(csv)
    assert df.columns.tolist() == ["arch_str", "nb201_index", "acc_cifar10"]


def test_shared_table(benchmark_csv, tmp_path):
    df = ingest(benchmark_csv, tmp_path / "b.parquet")
    assert len(df) == 15625 and {f"acc_{d}" for d in nb201.DATASETS} <= set(df.columns)


@pytest.mark.parametrize(
    "content, message",
    [
        ("arch_str,test_acc_cifar10\n|bad|,90\n", "row 1: arch string"),
        ("name,test_acc_cifar10\nx,90\n", "no 'arch_str' column"),
        (f"arch_str,foo\n{ARCHS[0]},1\n", "no accuracy columns"),
        (f"arch_str,test_acc_cifar10\n{ARCHS[0]},0.9\n{ARCHS[0]},0.8\n", "arch listed twice"),
        (f"arch_str,test_acc_cifar10\n{ARCHS[0]},190\n", "outside \\[0, 100\\]"),
        ("", "not a readable CSV"),
    ],
)
def test_malformed_tables(tmp_path, content, message):
    csv = tmp_path / "b.csv"
    csv.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_benchmark(csv)


def test_missing_and_wrong_format(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_benchmark(tmp_path / "nope.csv")
    junk = tmp_path / "b.pth"
    junk.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="not a NAS-Bench-201 benchmark file"):
        load_benchmark(junk)
    bad_parquet = tmp_path / "b.parquet"
    bad_parquet.write_bytes(b"PAR1 truncated")
    with pytest.raises(ValueError, match="not a readable Parquet"):
        load_benchmark(bad_parquet)
    other = tmp_path / "b.json"
    other.write_text("{}")
    with pytest.raises(ValueError, match="unknown benchmark format"):
        load_benchmark(other)


def test_pth_pickle_gate(tmp_path):
    from vkdnw.stages.benchmark import check_benchmark

    pth = tmp_path / "NAS-Bench-201-tiny.pth"
    _official_pth(pth, {ds: [50.0] * len(ARCHS) for ds in nb201.DATASETS})
    with pytest.raises(ValueError, match="refusing to unpickle .*`benchmark_sha256`"):
        check_benchmark(pth)  # at DAG build: neither checksum nor trust
    with pytest.raises(ValueError, match="refusing to unpickle"):
        ingest(pth, tmp_path / "b.parquet")
    with pytest.raises(ValueError, match="does not match benchmark_sha256"):
        ingest(pth, tmp_path / "b.parquet", sha256="0" * 64)
    assert not (tmp_path / "b.parquet").exists()
    check_benchmark(pth, trust_pickle=True)
    assert len(ingest(pth, tmp_path / "b.parquet", trust_pickle=True)) == len(ARCHS)
