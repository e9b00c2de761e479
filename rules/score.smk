# Stage 1: one job per (dataset, seed, proxy group, block of nets). On a cluster the profile
# bundles blocks into shards (job groups), which changes no output.


rule score_block:
    input:
        score_data,
    output:
        layout.block(RUN, "{proxy}", "{block}"),
    log:
        f"{RUN}/logs/score_{{proxy}}_{{block}}.log",
    benchmark:
        f"{RUN}/benchmarks/score_{{proxy}}_{{block}}.tsv"
    conda:
        "../envs/vkdnw.yaml"
    threads: scoring_threads
    resources:
        gpu=lambda wildcards: 1 if config["device"].startswith("cuda") else 0,
    params:
        settings=proxy_settings_json,
        version=proxy_code_version,
        selection=selection_and_reuse,
        block_size=config["block_size"],
        device=config["device"],
    shell:
        "vkdnw score --proxy {wildcards.proxy} --dataset {wildcards.dataset}"
        " --seed {wildcards.seed} {params.selection} --block {wildcards.block}"
        " --block-size {params.block_size} --settings '{params.settings}'"
        " --device {params.device} --threads {threads} --quiet --out {output} > {log} 2>&1"


# Patches of natural photos in a dataset's pickle layout, for the image-reading proxies where
# the config enables `surrogate_data` and names no real folder (rows say input=surrogate).
rule surrogate_data:
    output:
        directory(layout.surrogate(R, "{dataset}")),
    log:
        f"{NB}/logs/surrogate_data_{{dataset}}.log",
    benchmark:
        f"{NB}/benchmarks/surrogate_data_{{dataset}}.tsv"
    conda:
        "../envs/vkdnw.yaml"
    params:
        n_images=config["surrogate_data"]["n_images"],
        seed=config["surrogate_data"]["seed"],
    shell:
        "vkdnw surrogate-data --dataset {wildcards.dataset} --n-images {params.n_images}"
        " --seed {params.seed} --out {output} > {log} 2>&1"
