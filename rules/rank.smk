# Stage 3: rank the nets by every method.


rule rank_nets:
    input:
        layout.scores(RUN),
    output:
        f"{RUN}/ranks.parquet",
    log:
        f"{RUN}/logs/rank_nets.log",
    benchmark:
        f"{RUN}/benchmarks/rank_nets.tsv"
    conda:
        "../envs/vkdnw.yaml"
    shell:
        "vkdnw rank --scores {input} --out {output} > {log} 2>&1"
