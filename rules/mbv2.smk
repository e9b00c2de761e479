# Table 2: evolutionary search in the MobileNetV2 space, then ImageNet training of the winner.
# The search resumes from its candidate log (search/work-<settings key>/, not an output, so
# Snakemake keeps it when a job dies); the training resumes from
# train/run-<recipe key>/checkpoint.pth.


rule search_mbv2:
    output:
        candidates=f"{MB}/search/candidates.parquet",
        shortlist=f"{MB}/search/shortlist.parquet",
        best=f"{MB}/search/best_structure.txt",
        summary=f"{MB}/search/summary.json",
    log:
        f"{MB}/logs/search.log",
    benchmark:
        f"{MB}/benchmarks/search.tsv"
    conda:
        "../envs/vkdnw.yaml"
    threads: config["threads"]
    resources:
        gpu=1 if config["device"].startswith("cuda") else 0,
    params:
        settings=mbv2_search_settings(),
        code=files_hash(MBV2_SEARCH_SOURCES),
        root=lambda wildcards, output: os.path.dirname(output.best),
    shell:
        "vkdnw mbv2-search --settings '{params.settings}' --work-root {params.root}"
        " --out-dir {params.root} --threads {threads} --quiet > {log} 2>&1"


rule train_mbv2:
    input:
        best=rules.search_mbv2.output.best,
    output:
        metrics=f"{MB}/train/metrics.json",
        log_csv=f"{MB}/train/train_log.csv",
        png=f"{MB}/train/curves.png",
        svg=f"{MB}/train/curves.svg",
    log:
        f"{MB}/logs/train.log",
    benchmark:
        f"{MB}/benchmarks/train.tsv"
    conda:
        "../envs/vkdnw.yaml"
    threads: config["threads"]
    resources:
        gpu=MBV2_CFG["train"]["gpus"] if config["device"].startswith("cuda") else 0,
    params:
        data=MBV2_CFG["train"]["data"] or "",
        nproc=MBV2_CFG["train"]["gpus"],
        settings=mbv2_train_settings(),
        code=files_hash(MBV2_TRAIN_SOURCES),
        out=lambda wildcards, output: os.path.dirname(output.metrics),
    shell:
        # Check the data before torchrun starts N processes: no ImageNet, one clear line.
        "(vkdnw mbv2-check-data --data '{params.data}' &&"
        " torchrun --standalone --nproc_per_node={params.nproc} -m vkdnw.cli mbv2-train"
        " --structure {input.best} --data '{params.data}' --settings '{params.settings}'"
        " --out-dir {params.out} --threads {threads}) > {log} 2>&1"


rule table2_mbv2:
    input:
        summary=rules.search_mbv2.output.summary,
        metrics=rules.train_mbv2.output.metrics,
    output:
        f"{MB}/table2.csv",
    log:
        f"{MB}/logs/table2.log",
    benchmark:
        f"{MB}/benchmarks/table2.tsv"
    conda:
        "../envs/vkdnw.yaml"
    shell:
        "vkdnw mbv2-table2 --search-summary {input.summary} --train-metrics {input.metrics}"
        " --out {output} > {log} 2>&1"
