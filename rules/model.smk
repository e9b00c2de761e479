# Stage 3b: model-driven rankings, random forests trained on a sample of each run.


rule model_driven:
    input:
        scores=layout.scores(RUN),
        benchmark=f"{NB}/benchmark.parquet",
    output:
        f"{RUN}/model_metrics.parquet",
    log:
        f"{RUN}/logs/model_driven.log",
    benchmark:
        f"{RUN}/benchmarks/model_driven.tsv"
    conda:
        "../envs/vkdnw.yaml"
    params:
        n_train=config["model_driven"]["n_train"],
        forest=json.dumps(config["model_driven"]["forest"], sort_keys=True),
        graf="--graf-full" if config["model_driven"]["graf_full_features"] else "",
        ties=config["model_driven"]["graf_path_ties"],
        ndcg_k=config["metrics"]["ndcg_k"],
        zcs=" ".join(config["model_driven"]["zcs_required"]),
    shell:
        "vkdnw model-metrics --scores {input.scores} --benchmark {input.benchmark}"
        " --dataset {wildcards.dataset} --seed {wildcards.seed} --n-train {params.n_train}"
        " --ndcg-k {params.ndcg_k} --forest '{params.forest}' {params.graf} --graf-path-ties {params.ties}"
        " --zcs-required {params.zcs} --out {output} > {log} 2>&1"
