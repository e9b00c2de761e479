# VKDNW reproduction: NAS-Bench-201 scoring -> merge -> ranks -> metrics -> tables.
from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "config.yaml"


report: "report/workflow.rst"


validate(config, "src/vkdnw/config.schema.yaml")


include: "rules/common.smk"
include: "rules/archs.smk"
include: "rules/score.smk"
include: "rules/merge.smk"
include: "rules/rank.smk"
include: "rules/model.smk"
include: "rules/metrics.smk"
include: "rules/ablations.smk"
include: "rules/mbv2.smk"
include: "rules/archive.smk"


rule all:
    default_target: True
    input:
        all_targets(),
