# Stage 2: join the shards of one run.


rule merge_scores:
    input:
        run_shards,
    output:
        f"{RUN}/scores.parquet",
    log:
        f"{RUN}/logs/merge_scores.log",
    benchmark:
        f"{RUN}/benchmarks/merge_scores.tsv"
    conda:
        "../envs/vkdnw.yaml"
    params:
        selection=selection_args(),
    shell:
        "vkdnw merge --shards {input} {params.selection} --expected --out {output} > {log} 2>&1"
