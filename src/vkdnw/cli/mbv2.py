"""The MobileNetV2 stage's commands (Table 2): the evolutionary search, ImageNet training
under torchrun, its data check and the Table 2 row."""

from __future__ import annotations

import argparse
import json
import os

from vkdnw.cli.common import json_object


def cmd_mbv2_search(a: argparse.Namespace) -> None:
    import torch

    from tqdm import tqdm

    from vkdnw.mbv2.evolution import run_search, settings_from_dict, work_dir_for, write_outputs

    torch.set_num_threads(a.threads)
    s = settings_from_dict(json_object(a.settings))
    work = work_dir_for(s, a.work_root)
    bar = tqdm(total=s.iterations, desc="mbv2 search", disable=a.quiet, mininterval=5)

    def progress(it: int, row: dict) -> None:
        bar.n = it + 1
        bar.refresh()

    log = run_search(s, work, chunk_rows=a.chunk_rows, progress=progress)
    bar.close()
    summary = write_outputs(log, s, a.out_dir, s.score.device)
    print(json.dumps({k: summary[k] for k in ("iterations", "candidates_per_second", "best_structure")}))


def cmd_mbv2_train(a: argparse.Namespace) -> None:
    import torch

    from pathlib import Path

    from vkdnw.mbv2.train import TrainSettings, check_data, plot_curves, train

    check_data(a.data)  # fail before torchrun spends anything
    try:
        s = TrainSettings(**json_object(a.settings))
    except TypeError as exc:
        raise ValueError(f"bad mbv2 train settings: {exc}") from None
    torch.set_num_threads(a.threads)
    structure = Path(a.structure).read_text().strip() if a.structure.endswith(".txt") else a.structure
    result = train(structure, a.data, a.out_dir, s)
    if int(os.environ.get("RANK", "0")) == 0:
        plot_curves(Path(a.out_dir) / "train_log.csv", a.out_dir)
        print(json.dumps({k: result[k] for k in ("top1", "top5", "epochs", "world_size")}))


def cmd_mbv2_check_data(a: argparse.Namespace) -> None:
    from vkdnw.mbv2.train import check_data

    train, val = check_data(a.data)
    print(f"training data: {train} and {val}")


def cmd_mbv2_table2(a: argparse.Namespace) -> None:
    from vkdnw.mbv2.train import write_table2

    write_table2(a.search_summary, a.train_metrics, a.out)


def add_commands(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("mbv2-search", help="evolutionary search in the MobileNetV2 space (resumes from its log)")
    s.add_argument("--settings", required=True, help="the config's mbv2.search block as JSON")
    s.add_argument("--work-root", required=True, help="where the per-settings candidate logs live")
    s.add_argument("--chunk-rows", type=int, default=256, help="candidates per Parquet part of the log")
    s.add_argument("--out-dir", required=True)
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_mbv2_search)

    s = sub.add_parser("mbv2-train", help="train a searched MBV2 net on an ImageFolder (run it under torchrun "
                                          "for several GPUs); resumes from its checkpoint")
    s.add_argument("--structure", required=True, help="a structure string or best_structure.txt")
    s.add_argument("--data", default=None, help="folder with train/ and val/ (ImageFolder layout)")
    s.add_argument("--settings", default="{}", help="the config's mbv2.train block as JSON")
    s.add_argument("--out-dir", required=True)
    s.add_argument("--threads", type=int, default=1)
    s.set_defaults(func=cmd_mbv2_train)

    s = sub.add_parser("mbv2-check-data", help="check an ImageNet folder (train/ and val/) before training")
    s.add_argument("--data", default=None)
    s.set_defaults(func=cmd_mbv2_check_data)

    s = sub.add_parser("mbv2-table2", help="Table 2 row: FLOPs, params, top-1 and search cost")
    s.add_argument("--search-summary", required=True)
    s.add_argument("--train-metrics", default=None)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_mbv2_table2)
