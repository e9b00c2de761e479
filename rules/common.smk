# Constants and input functions shared by every stage.
import json
import os

# Planning imports no torch, scipy or sklearn: `snakemake -n` runs where only the workflow's
# light dependencies are installed (a login node).
from vkdnw.stages.ablation import (
    TABLES as ABLATION_TABLES,
    settings_by_id,
    table_settings,
)
from vkdnw.stages.benchmark import check_benchmark
from vkdnw import layout
from vkdnw.plan import (
    data_folder,
    group_settings,
    n_blocks,
    proxy_settings,
    reuse_roots,
    run_groups,
    select_archs,
    surrogate_read,
)
from vkdnw.proxies.catalog import files_hash, proxy_version

# A malformed benchmark table stops the workflow here, before any scoring job starts.
check_benchmark(
    config["benchmark"], config["benchmark_sha256"], config["trust_benchmark_pickle"]
)

# The results layout is vkdnw.layout's: rules pass the wildcards as its parts.
R = config["results"]
NB = layout.nb201(R)
RUN = layout.run(R, "{dataset}", "{seed}")
ARCHS = select_archs(config["subset"], config["n_archs"], config["sample_seed"])
BLOCKS = [f"{k:03d}" for k in range(n_blocks(len(ARCHS), config["block_size"]))]
SUBSETS = ["unique", "all"] if config["subset"] == "all" else ["unique"]
# Proxy groups per dataset (a `per_dataset` overlay's `proxies`, else `proxies`).
PROXIES = {d: run_groups(config, d) for d in config["datasets"]}
ALL_PROXIES = sorted({p for groups in PROXIES.values() for p in groups})
TABLE_OF_SUBSET = {"unique": "table1", "all": "table6"}
# Ablations (Tables 5/8/9): each distinct VKDNW setting is one scoring run of its own.
ABL_CFG = config["ablations"]
ABL_SETTINGS = settings_by_id(config)
ABL_ARCHS = select_archs(ABL_CFG["subset"], ABL_CFG["n_archs"], ABL_CFG["sample_seed"])
ABL_BLOCKS = [f"{k:03d}" for k in range(n_blocks(len(ABL_ARCHS), config["block_size"]))]
ABL = layout.ablation_run(R, "{setting}", "{dataset}", "{seed}")


wildcard_constraints:
    dataset="|".join(sorted({*config["datasets"], ABL_CFG["dataset"]})).replace(
        "-", "\\-"
    ),
    seed=r"\d+",
    block=r"\d{3}",
    # The ablation runs score VKDNW whatever the main runs' groups are.
    proxy="|".join(sorted({*ALL_PROXIES, *(s.proxy for s in ABL_SETTINGS.values())})),
    subset="unique|all",
    setting="|".join(ABL_SETTINGS).replace(".", "\\."),


def selection_args(cfg=config):
    """CLI flags that reproduce the arch selection of this config (or of its ablations)."""
    n = cfg["n_archs"]
    return f"--subset {cfg['subset']} --sample-seed {cfg['sample_seed']}" + (
        f" --n-archs {n}" if n else ""
    )


def scoring_threads(wildcards):
    """CPU threads of a scoring job. On a GPU, `gpu_jobs` jobs share it: each takes that share
    of `--cores`, so that `snakemake --cores 16 --config device=cuda` runs K at a time.
    """
    if config["device"].startswith("cuda"):
        return max(config["threads"], (workflow.cores or 1) // config["gpu_jobs"])
    return config["threads"]


def selection_and_reuse(wildcards):
    """The arch selection's flags, plus the `reuse_scores` runs this job may take rows from.
    Without reuse the value is the bare selection, as before the option existed, so that no
    block reruns for it."""
    roots = reuse_roots(
        config, wildcards.proxy, wildcards.dataset, wildcards.seed, workflow.basedir
    )
    return selection_args() + (" --reuse-from " + " ".join(roots) if roots else "")


def proxy_settings_json(wildcards):
    return json.dumps(
        proxy_settings(config, wildcards.proxy, wildcards.dataset), sort_keys=True
    )


def surrogate_input(settings, dataset):
    """The surrogate image folder a scoring job's settings read, if any: the workflow writes
    it, so it is the job's input."""
    folder = surrogate_read(config, settings, dataset)
    return [folder] if folder else []


def score_data(wildcards):
    settings = proxy_settings(config, wildcards.proxy, wildcards.dataset)
    return surrogate_input(settings, wildcards.dataset)


def proxy_code_version(wildcards):
    # Snakemake does not track imported modules: the group's declared version stands for its
    # code, so a refactor that keeps the numbers reruns nothing and a bump reruns its blocks.
    return proxy_version(wildcards.proxy)


def files_and_labels(pairs_of):
    """Two input functions over ``pairs_of(wildcards)``, (label, file) pairs: the files, for a
    rule's input, and their ``LABEL=PATH`` arguments, for its command (which then reads no
    name back out of a path)."""
    return (
        lambda wildcards: [f for _, f in pairs_of(wildcards)],
        lambda wildcards: layout.labelled(pairs_of(wildcards)),
    )


def run_block_pairs(wildcards):
    """(proxy group, block file) of every block of one run."""
    run = layout.run(R, wildcards.dataset, wildcards.seed)
    return [
        (p, layout.block(run, p, b)) for p in PROXIES[wildcards.dataset] for b in BLOCKS
    ]


# The merge's input, and its --blocks: each block with its group.
run_blocks, labelled_run_blocks = files_and_labels(run_block_pairs)


def run_scores_pairs(label):
    """(label, merged scores) of every configured run; ``label(dataset, seed)``."""
    return [
        (label(d, s), layout.scores(layout.run(R, d, s)))
        for d in config["datasets"]
        for s in config["seeds"]
    ]


def table4_scores():
    return layout.labelled(run_scores_pairs(lambda d, s: d))


def manifest_runs():
    return layout.labelled(run_scores_pairs(lambda d, s: f"{d}/seed{s}"))


def run_metrics_files(wildcards):
    """Per-run metrics; with model-driven rankings on, their test metrics too (not for
    Table 10, whose rows are the aggregates of VKDNW_agg's components)."""
    names = ["metrics"]
    if (
        config["model_driven"]["enabled"]
        and getattr(wildcards, "table", "") != "table10"
    ):
        names.append("model_metrics")
    return expand(
        f"{RUN}/{{name}}.parquet",
        dataset=config["datasets"],
        seed=config["seeds"],
        name=names,
    )


def manifest_benchmark_dirs(wildcards, output):
    """Job timing folders of the configured runs only (for the manifest's wall time)."""
    nb = os.path.dirname(output[0])
    runs = expand(
        f"{nb}/{{dataset}}/seed{{seed}}/benchmarks",
        dataset=config["datasets"],
        seed=config["seeds"],
    )
    return " ".join([f"{nb}/benchmarks", *runs])


def pickle_flags():
    """The .pth gate's flags for the ingestion job (which hashes the file)."""
    flags = (
        f"--sha256 {config['benchmark_sha256']}" if config["benchmark_sha256"] else ""
    )
    return flags + (" --trust-pickle" if config["trust_benchmark_pickle"] else "")


def benchmark_flag():
    return f"--benchmark {config['benchmark']}" if config["benchmark"] else ""


def run_settings_json(wildcards):
    """Every group's scoring settings in one run (the merge checks its blocks against them)."""
    settings = {}
    for proxy in PROXIES[wildcards.dataset]:
        settings.update(proxy_settings(config, proxy, wildcards.dataset))
    return json.dumps(settings, sort_keys=True)


def has_groups(*groups):
    """Whether some dataset scores all of ``groups``."""
    return any(all(g in groups_ for g in groups) for groups_ in PROXIES.values())


def table_names():
    """Tables 1/6 by subset; Table 10 needs VKDNW_agg's components on the unique nets."""
    names = [TABLE_OF_SUBSET[s] for s in SUBSETS]
    if has_groups("size", "vkdnw", "jacov", "aznas"):
        names.append("table10")
    return names


def figure_datasets():
    """Datasets whose runs score ``size`` and VKDNW or AZ-NAS (Figures 3/4 need both)."""
    return [
        d
        for d, groups in PROXIES.items()
        if "size" in groups and ("vkdnw" in groups or "aznas" in groups)
    ]


def figure_files():
    return expand(
        f"{NB}/figures/figure{{n}}_{{dataset}}.{{ext}}",
        n=[3, 4],
        dataset=figure_datasets(),
        ext=["png", "svg"],
    )


def figure_score_pairs(wildcards):
    # One run per dataset (the first seed): the figures show a property of the space.
    return [
        (d, layout.scores(layout.run(R, d, config["seeds"][0])))
        for d in figure_datasets()
    ]


figure_scores, labelled_figure_scores = files_and_labels(figure_score_pairs)


def result_tables():
    """Names of the tables this config writes under tables/: each as .csv (and .md where its
    rule writes one) and, for the Snakemake report, as .html."""
    names = []
    if config["benchmark"]:
        names += table_names()
        if "table1" in names:
            names.append("table7")
        if config["significance"]["enabled"]:
            names.append("significance")
    if has_groups("size", "vkdnw") or has_groups("size", "aznas"):
        names.append("table4")
    return names


def output_dir(wildcards, output):
    """The folder of a rule's first output (for CLIs that write several files there)."""
    return os.path.dirname(output[0])


def all_targets():
    targets = [f"{NB}/archs.parquet"]
    targets += expand(
        f"{RUN}/ranks.parquet", dataset=config["datasets"], seed=config["seeds"]
    )
    tables = result_tables()
    targets += expand(f"{NB}/tables/{{name}}.{{ext}}", name=tables, ext=["csv", "html"])
    # Every table but the significance one also has a Markdown rendering.
    targets += [f"{NB}/tables/{name}.md" for name in tables if name != "significance"]
    if config["benchmark"]:
        targets.append(f"{NB}/manifest.yaml")
        figures = ["rank_accuracy"] + (["figure1"] if "table1" in table_names() else [])
        targets += expand(
            f"{NB}/figures/{{figure}}_{{dataset}}.png",
            figure=figures,
            dataset=config["datasets"],
        )
    targets += figure_files()
    targets.append(f"{NB}/figures/figure2.png")
    return targets + mbv2_targets()


# ----------------------------------------------------------------------------- ablations


def ablation_settings(wildcards):
    setting = ABL_SETTINGS[wildcards.setting]
    data = data_folder(config, wildcards.dataset)
    return setting.settings(group_settings(config, "vkdnw")["fim"], data)


def ablation_settings_json(wildcards):
    return json.dumps(ablation_settings(wildcards), sort_keys=True)


def ablation_data(wildcards):
    return surrogate_input(ablation_settings(wildcards), wildcards.dataset)


def ablation_block_pairs(wildcards):
    run = layout.ablation_run(R, wildcards.setting, wildcards.dataset, wildcards.seed)
    proxy = ABL_SETTINGS[wildcards.setting].proxy
    return [(proxy, layout.block(run, proxy, b)) for b in ABL_BLOCKS]


ablation_blocks, labelled_ablation_blocks = files_and_labels(ablation_block_pairs)


def ablation_table_config():
    """What of the config the ablation tables' rows depend on (as JSON): the main run's VKDNW
    settings, the ablations block, and where each dataset's images come from (a real-input
    row reads its random twin's run when there are none)."""
    keys = ("ablations", "data", "surrogate_data", "results")
    cfg = {k: config[k] for k in keys}
    cfg["settings"] = {"vkdnw": group_settings(config, "vkdnw")}
    return json.dumps(cfg, sort_keys=True)


def ablation_metric_pairs(wildcards):
    """(setting id, metrics file) of every ablation run one table reads."""
    return [
        (sid, f"{layout.ablation_run(R, sid, ABL_CFG['dataset'], s)}/metrics.parquet")
        for sid in table_settings(config, wildcards.table)
        for s in ABL_CFG["seeds"]
    ]


ablation_metrics, labelled_ablation_metrics = files_and_labels(ablation_metric_pairs)


def ablation_targets(wildcards):
    if not config["benchmark"]:
        raise ValueError(
            "the ablations target needs `benchmark` in the config (Tables 5/8/9 are metrics)"
        )
    return expand(
        f"{NB}/tables/{{table}}.{{ext}}",
        table=ABLATION_TABLES,
        ext=["csv", "md", "html"],
    )


# ----------------------------------------------------------------------------- MBV2 (Table 2)

MB = layout.mbv2(R)
MBV2_CFG = config["mbv2"]
# Package files the search's candidates depend on, and the training's; hashed into params
# because Snakemake never tracks imported modules.
MBV2_SEARCH_SOURCES = (
    "spaces/mbv2.py",
    "mbv2/score.py",
    "mbv2/evolution.py",
    "proxies/vkdnw.py",
    "proxies/aznas.py",
    "proxies/common.py",
    "rng.py",
)
MBV2_TRAIN_SOURCES = ("spaces/mbv2.py", "mbv2/train.py", "proxies/common.py")


def mbv2_search_settings():
    s = json.loads(json.dumps(MBV2_CFG["search"]))
    s.setdefault("score", {})["device"] = config["device"]
    return json.dumps(s, sort_keys=True)


def mbv2_train_settings():
    return json.dumps(MBV2_CFG["train"]["settings"], sort_keys=True)


def mbv2_targets():
    if not MBV2_CFG["enabled"]:
        return []
    return [
        f"{MB}/table2.csv",
        f"{MB}/search/shortlist.parquet",
        f"{MB}/train/curves.png",
    ]
