# Stage 2: join the score blocks of one run.


rule merge_scores:
    input:
        run_blocks,
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
        "vkdnw merge --blocks {input} {params.selection} --expected --out {output} > {log} 2>&1"
