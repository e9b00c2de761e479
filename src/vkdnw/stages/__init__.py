"""The NB201 stages the Snakemake rules run: scoring, merge, ranking, metrics, model-driven
rankings, significance, ablation tables, figures, the manifest and the archive."""
