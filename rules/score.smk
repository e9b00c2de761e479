# Stage 1: one job per (dataset, seed, proxy group, shard).


rule score_shard:
    output:
        f"{RUN}/scores/{{proxy}}/shard{{shard}}.parquet",
    log:
        f"{RUN}/logs/score_{{proxy}}_{{shard}}.log",
    benchmark:
        f"{RUN}/benchmarks/score_{{proxy}}_{{shard}}.tsv"
    conda:
        "../envs/vkdnw.yaml"
    threads: config["threads"]
    resources:
        gpu=lambda wildcards: 1 if config["device"].startswith("cuda") else 0,
    params:
        settings=proxy_settings_json,
        code=proxy_code_hash,
        selection=selection_args(),
        shard_size=config["shard_size"],
        device=config["device"],
    shell:
        "vkdnw score --proxy {wildcards.proxy} --dataset {wildcards.dataset}"
        " --seed {wildcards.seed} {params.selection} --shard {wildcards.shard}"
        " --shard-size {params.shard_size} --settings '{params.settings}'"
        " --device {params.device} --threads {threads} --quiet --out {output} > {log} 2>&1"
