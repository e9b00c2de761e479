# Ablations (Tables 5, 8 and 9), outside `all`: `snakemake ablations`. Each distinct VKDNW
# setting the tables need is one run under ablations/{setting}/, made by the same scoring,
# merge, rank and evaluation rules as the main runs (only paths and settings differ).


use rule score_block as score_ablation with:
    input:
        ablation_data,
    output:
        layout.block(ABL, "{proxy}", "{block}"),
    log:
        f"{ABL}/logs/score_{{proxy}}_{{block}}.log",
    benchmark:
        f"{ABL}/benchmarks/score_{{proxy}}_{{block}}.tsv"
    params:
        settings=ablation_settings_json,
        version=proxy_code_version,
        selection=selection_args(ABL_CFG),
        block_size=config["block_size"],
        device=config["device"],


use rule merge_scores as merge_ablation with:
    input:
        ablation_blocks,
    output:
        layout.scores(ABL),
    log:
        f"{ABL}/logs/merge_scores.log",
    benchmark:
        f"{ABL}/benchmarks/merge_scores.tsv"
    params:
        selection=selection_args(ABL_CFG),
        settings=ablation_settings_json,
        blocks=labelled_ablation_blocks,


use rule rank_nets as rank_ablation with:
    input:
        layout.scores(ABL),
    output:
        f"{ABL}/ranks.parquet",
    log:
        f"{ABL}/logs/rank_nets.log",
    benchmark:
        f"{ABL}/benchmarks/rank_nets.tsv"


use rule evaluate_run as evaluate_ablation with:
    input:
        ranks=f"{ABL}/ranks.parquet",
        scores=layout.scores(ABL),
        benchmark=f"{NB}/benchmark.parquet",
    output:
        f"{ABL}/metrics.parquet",
    log:
        f"{ABL}/logs/evaluate_run.log",
    benchmark:
        f"{ABL}/benchmarks/evaluate_run.tsv"
    params:
        ndcg_k=config["metrics"]["ndcg_k"],


rule ablation_table:
    input:
        ablation_metrics,
    output:
        csv=f"{NB}/tables/{{table}}.csv",
        md=f"{NB}/tables/{{table}}.md",
    log:
        f"{NB}/logs/ablation_table_{{table}}.log",
    benchmark:
        f"{NB}/benchmarks/ablation_table_{{table}}.tsv"
    wildcard_constraints:
        table="table5|table8|table9",
    conda:
        "../envs/vkdnw.yaml"
    params:
        config=ablation_table_config(),
        metrics=labelled_ablation_metrics,
    shell:
        "vkdnw ablation-table --table {wildcards.table} --config '{params.config}'"
        " --metrics {params.metrics} --out-csv {output.csv} --out-md {output.md} > {log} 2>&1"


rule ablations:
    input:
        ablation_targets,
