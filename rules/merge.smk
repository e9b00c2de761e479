# Stage 2: join the score blocks of one run.


rule merge_scores:
    input:
        run_blocks,
    output:
        layout.scores(RUN),
    log:
        f"{RUN}/logs/merge_scores.log",
    benchmark:
        f"{RUN}/benchmarks/merge_scores.tsv"
    conda:
        "../envs/vkdnw.yaml"
    params:
        selection=selection_args(),
        # The settings each group's blocks were scored at: the merge checks what the rows
        # record against them (and fills them in for blocks older than the record).
        settings=run_settings_json,
        blocks=labelled_run_blocks,
    shell:
        "vkdnw merge --blocks {params.blocks} {params.selection} --settings '{params.settings}'"
        " --expected --out {output} > {log} 2>&1"
