# Stage 4: metrics per run against the benchmark, then tables averaged over seeds.


rule evaluate_run:
    input:
        ranks=f"{RUN}/ranks.parquet",
        scores=layout.scores(RUN),
        benchmark=f"{NB}/benchmark.parquet",
    output:
        f"{RUN}/metrics.parquet",
    log:
        f"{RUN}/logs/evaluate_run.log",
    benchmark:
        f"{RUN}/benchmarks/evaluate_run.tsv"
    conda:
        "../envs/vkdnw.yaml"
    params:
        ndcg_k=config["metrics"]["ndcg_k"],
    shell:
        "vkdnw metrics --ranks {input.ranks} --scores {input.scores} --benchmark {input.benchmark}"
        " --dataset {wildcards.dataset} --seed {wildcards.seed} --ndcg-k {params.ndcg_k}"
        " --out {output} > {log} 2>&1"


rule make_table:
    input:
        run_metrics_files,
    output:
        csv=f"{NB}/tables/{{table}}.csv",
        md=f"{NB}/tables/{{table}}.md",
    log:
        f"{NB}/logs/make_table_{{table}}.log",
    benchmark:
        f"{NB}/benchmarks/make_table_{{table}}.tsv"
    wildcard_constraints:
        table="table1|table6|table10",
    conda:
        "../envs/vkdnw.yaml"
    params:
        subset=lambda wildcards: "all" if wildcards.table == "table6" else "unique",
        kind=lambda wildcards: "components" if wildcards.table == "table10" else "main",
    shell:
        "vkdnw tables --metrics {input} --subset {params.subset} --table {params.kind}"
        " --title {wildcards.table} --out-csv {output.csv} --out-md {output.md} > {log} 2>&1"


rule table4:
    input:
        expand(layout.scores(RUN), dataset=config["datasets"], seed=config["seeds"]),
    output:
        csv=f"{NB}/tables/table4.csv",
        md=f"{NB}/tables/table4.md",
    log:
        f"{NB}/logs/table4.log",
    benchmark:
        f"{NB}/benchmarks/table4.tsv"
    conda:
        "../envs/vkdnw.yaml"
    params:
        nonfinite=config["metrics"]["aleph_nonfinite"],
        scores=table4_scores(),
    shell:
        "vkdnw table4 --scores {params.scores} --nonfinite {params.nonfinite}"
        " --out-csv {output.csv} --out-md {output.md} > {log} 2>&1"


rule write_manifest:
    input:
        # Its metadata name the benchmark file and SHA-256 the tables were computed from.
        benchmark=f"{NB}/benchmark.parquet",
        tables=expand(f"{NB}/tables/{{table}}.csv", table=table_names()),
        scores=expand(
            layout.scores(RUN), dataset=config["datasets"], seed=config["seeds"]
        ),
    output:
        f"{NB}/manifest.yaml",
    log:
        f"{NB}/logs/write_manifest.log",
    benchmark:
        f"{NB}/benchmarks/write_manifest.tsv"
    conda:
        "../envs/vkdnw.yaml"
    params:
        config=json.dumps(config, sort_keys=True),
        benchmark_dirs=manifest_benchmark_dirs,
        runs=manifest_runs(),
    shell:
        "vkdnw manifest --config '{params.config}' --inputs {input}"
        " --runs {params.runs} --benchmark {input.benchmark}"
        " --benchmarks $(find {params.benchmark_dirs} -name '*.tsv' 2>/dev/null)"
        " --out {output} > {log} 2>&1"


rule figures:
    input:
        figure_scores,
    output:
        [
            (
                report(f, caption="../report/figure34.rst", category="Figures")
                if f.endswith(".png")
                else f
            )
            for f in figure_files()
        ],
    log:
        f"{NB}/logs/figures.log",
    benchmark:
        f"{NB}/benchmarks/figures.tsv"
    conda:
        "../envs/vkdnw.yaml"
    params:
        out_dir=output_dir,
        scores=labelled_figure_scores,
    shell:
        "vkdnw figures --scores {params.scores} --out-dir {params.out_dir} > {log} 2>&1"


rule significance:
    input:
        ranks=f"{RUN}/ranks.parquet",
        benchmark=f"{NB}/benchmark.parquet",
    output:
        f"{RUN}/significance.parquet",
    log:
        f"{RUN}/logs/significance.log",
    benchmark:
        f"{RUN}/benchmarks/significance.tsv"
    conda:
        "../envs/vkdnw.yaml"
    params:
        n_perm=config["significance"]["n_perm"],
        n_boot=config["significance"]["n_boot"],
        ndcg_k=config["metrics"]["ndcg_k"],
    shell:
        "vkdnw significance --ranks {input.ranks} --benchmark {input.benchmark}"
        " --dataset {wildcards.dataset} --seed {wildcards.seed} --ndcg-k {params.ndcg_k}"
        " --n-perm {params.n_perm} --n-boot {params.n_boot} --out {output} > {log} 2>&1"


rule significance_table:
    input:
        expand(
            f"{RUN}/significance.parquet",
            dataset=config["datasets"],
            seed=config["seeds"],
        ),
    output:
        f"{NB}/tables/significance.csv",
    log:
        f"{NB}/logs/significance_table.log",
    benchmark:
        f"{NB}/benchmarks/significance_table.tsv"
    conda:
        "../envs/vkdnw.yaml"
    shell:
        "vkdnw concat {input} --out {output} > {log} 2>&1"


rule table7:
    input:
        f"{NB}/tables/table1.csv",
    output:
        csv=f"{NB}/tables/table7.csv",
        md=f"{NB}/tables/table7.md",
    log:
        f"{NB}/logs/table7.log",
    benchmark:
        f"{NB}/benchmarks/table7.tsv"
    conda:
        "../envs/vkdnw.yaml"
    shell:
        "vkdnw table7 --table {input} --out-csv {output.csv} --out-md {output.md} > {log} 2>&1"


rule figure1:
    input:
        f"{NB}/tables/table1.csv",
    output:
        png=report(
            expand(
                f"{NB}/figures/figure1_{{dataset}}.png", dataset=config["datasets"]
            ),
            caption="../report/figure1.rst",
            category="Figures",
        ),
        svg=expand(f"{NB}/figures/figure1_{{dataset}}.svg", dataset=config["datasets"]),
    log:
        f"{NB}/logs/figure1.log",
    benchmark:
        f"{NB}/benchmarks/figure1.tsv"
    conda:
        "../envs/vkdnw.yaml"
    params:
        out_dir=output_dir,
    shell:
        "vkdnw figure1 --table {input} --out-dir {params.out_dir} > {log} 2>&1"


rule figure2:
    output:
        png=report(
            f"{NB}/figures/figure2.png",
            caption="../report/figure2.rst",
            category="Figures",
        ),
        svg=f"{NB}/figures/figure2.svg",
    log:
        f"{NB}/logs/figure2.log",
    benchmark:
        f"{NB}/benchmarks/figure2.tsv"
    conda:
        "../envs/vkdnw.yaml"
    params:
        out_dir=output_dir,
    shell:
        "vkdnw figure2 --out-dir {params.out_dir} > {log} 2>&1"


rule rank_accuracy:
    input:
        ranks=f"{NB}/{{dataset}}/seed{config['seeds'][0]}/ranks.parquet",
        benchmark=f"{NB}/benchmark.parquet",
    output:
        png=report(
            f"{NB}/figures/rank_accuracy_{{dataset}}.png",
            caption="../report/rank_accuracy.rst",
            category="Figures",
        ),
        svg=f"{NB}/figures/rank_accuracy_{{dataset}}.svg",
    log:
        f"{NB}/logs/rank_accuracy_{{dataset}}.log",
    benchmark:
        f"{NB}/benchmarks/rank_accuracy_{{dataset}}.tsv"
    conda:
        "../envs/vkdnw.yaml"
    params:
        out_dir=output_dir,
    shell:
        "vkdnw rank-accuracy --ranks {input.ranks} --benchmark {input.benchmark}"
        " --dataset {wildcards.dataset} --out-dir {params.out_dir} > {log} 2>&1"


rule html_table:
    input:
        f"{NB}/tables/{{name}}.csv",
    output:
        report(
            f"{NB}/tables/{{name}}.html",
            caption="../report/tables.rst",
            category="Tables",
        ),
    log:
        f"{NB}/logs/html_table_{{name}}.log",
    benchmark:
        f"{NB}/benchmarks/html_table_{{name}}.tsv"
    wildcard_constraints:
        name="table[0-9]+|significance",
    conda:
        "../envs/vkdnw.yaml"
    shell:
        "vkdnw html-table {input} --title {wildcards.name} --out {output} > {log} 2>&1"
