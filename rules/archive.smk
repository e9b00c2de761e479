# Stage 6: the results tree and its provenance in one tarball (`snakemake archive`).


rule archive:
    input:
        all_targets(),
    output:
        f"{R}.tar.gz",
    log:
        "logs/archive.log",
    benchmark:
        "benchmarks/archive.tsv"
    conda:
        "../envs/vkdnw.yaml"
    params:
        root=lambda wildcards, output: output[0].removesuffix(".tar.gz"),
        config=json.dumps(config, sort_keys=True),
        benchmark=benchmark_flag(),
    shell:
        "vkdnw archive --root {params.root} --config '{params.config}' {params.benchmark}"
        " --out {output} > {log} 2>&1"
