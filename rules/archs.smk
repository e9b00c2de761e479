# Stage 0: the search space and the ground truth.


rule enumerate_archs:
    output:
        f"{NB}/archs.parquet",
    log:
        f"{NB}/logs/enumerate_archs.log",
    benchmark:
        f"{NB}/benchmarks/enumerate_archs.tsv"
    conda:
        "../envs/vkdnw.yaml"
    shell:
        "vkdnw archs --out {output} > {log} 2>&1"


rule ingest_benchmark:
    input:
        config["benchmark"] or [],
    output:
        f"{NB}/benchmark.parquet",
    log:
        f"{NB}/logs/ingest_benchmark.log",
    benchmark:
        f"{NB}/benchmarks/ingest_benchmark.tsv"
    conda:
        "../envs/vkdnw.yaml"
    params:
        gate=pickle_flags(),
    shell:
        "vkdnw ingest-benchmark --benchmark {input} {params.gate} --out {output} > {log} 2>&1"
