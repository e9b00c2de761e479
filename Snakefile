# VKDNW reproduction: NAS-Bench-201 scoring -> merge -> ranks -> metrics -> tables.
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

from vkdnw.config import validate_config
from vkdnw.proxies.catalog import use_modules

min_version("8.0")


configfile: "config.yaml"


report: "report/workflow.rst"


# One line naming the key on a bad config (snakemake.utils.validate prints the whole schema).
try:
    # Groups outside the package first: their names are checked like the built-in ones, and
    # every job inherits them (the environment variable use_modules sets).
    use_modules(config.get("proxy_modules") or [], workflow.basedir)
    validate_config(config)
except ValueError as exc:
    raise WorkflowError(str(exc)) from None


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
