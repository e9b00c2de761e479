"""The docs a new user reads first: generated pages are current, every committed run documents itself."""

import re

from conftest import REPO
from vkdnw.config import load_schema
from vkdnw.config_docs import render


def test_configuration_page_is_current():
    page = (REPO / "docs/configuration.md").read_text()
    assert page == render(load_schema()), "regenerate: python -m vkdnw.config_docs docs/configuration.md"


def test_every_schema_key_is_documented():
    # A key without a description would leave an empty cell in the reference page.
    empty = [ln for ln in render(load_schema()).splitlines() if ln.startswith("| `") and ln.endswith("|  |")]
    assert not empty, empty


def test_every_committed_run_has_a_readme():
    runs = [p for p in (REPO / "results/reference").iterdir() if p.is_dir()]
    assert runs
    missing = [p.name for p in runs if not (p / "README.md").is_file()]
    assert not missing, missing


def test_readme_is_a_front_door_whose_links_resolve():
    readme = REPO / "README.md"
    text = readme.read_text()
    assert len(text.splitlines()) <= 200
    docs = [readme, *(REPO / "docs").glob("*.md"), *(REPO / "results/reference").glob("*/README.md")]
    broken = []
    for doc in docs:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" not in target and not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(REPO)} -> {target}")
    assert not broken, broken


def test_ci_runs_the_readmes_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci/run").read_text()
    assert "python -m pytest -q\n" in readme
    assert re.search(r"^python -m pytest -q$", ci, re.M)
