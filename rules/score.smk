# Stage 1: one job per (dataset, seed, proxy group, block of nets). On a cluster the profile
# bundles blocks into shards (job groups), which changes no output.


rule score_block:
    output:
        f"{RUN}/scores/{{proxy}}/block{{block}}.parquet",
    log:
        f"{RUN}/logs/score_{{proxy}}_{{block}}.log",
    benchmark:
        f"{RUN}/benchmarks/score_{{proxy}}_{{block}}.tsv"
    conda:
        "../envs/vkdnw.yaml"
    threads: config["threads"]
    resources:
        gpu=lambda wildcards: 1 if config["device"].startswith("cuda") else 0,
    params:
        settings=proxy_settings_json,
        code=proxy_code_hash,
        selection=selection_args(),
        block_size=config["block_size"],
        device=config["device"],
    shell:
        "vkdnw score --proxy {wildcards.proxy} --dataset {wildcards.dataset}"
        " --seed {wildcards.seed} {params.selection} --block {wildcards.block}"
        " --block-size {params.block_size} --settings '{params.settings}'"
        " --device {params.device} --threads {threads} --quiet --out {output} > {log} 2>&1"
