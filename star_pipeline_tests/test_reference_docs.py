"""The docs match the code: the generated reference pages are current."""

from __future__ import annotations

import re

import pytest

from star_pipeline import reference_docs
from star_pipeline_tests.conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"


def read(path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(reference_docs.GENERATED))
def test_the_generated_reference_page_matches_the_code(name):
    committed = DOCS / "reference" / name
    expected = reference_docs.GENERATED[name]()
    assert committed.exists() and read(committed) == expected, (
        f"docs/reference/{name} is stale: run `{reference_docs.REGENERATE}` from the checkout's top folder "
        "and commit the result")


def test_the_schema_page_lists_every_table_of_every_layer_with_its_columns():
    """Against the assets themselves: each table a heading, each described column a row."""
    page = read(DOCS / "reference" / "schema.md")
    for layer, specs in reference_docs._assets_by_layer().items():
        for spec in specs:
            schema = spec.metadata.get("dagster/column_schema")
            table = spec.key.path[-1]
            if schema is None:
                assert f"`{spec.key.to_user_string()}`" in page
                continue
            heading = "### raw.<source>_" + table.rsplit("_", 1)[1] if layer == "raw" else f"### {layer}.{table}"
            section = page.split(heading + "\n", 1)[1].split("\n### ", 1)[0]
            missing = [c.name for c in schema.columns if f"| `{c.name}` |" not in section]
            assert not missing, f"{layer}.{table}: {missing} not on the schema page"
    assert "### aggregate.search_word_counts" in page


def test_the_check_option_names_a_stale_file_and_the_command(tmp_path, capsys):
    assert reference_docs.main([str(tmp_path)]) == 0
    (tmp_path / "cli.md").write_text(read(tmp_path / "cli.md").replace("--raw-only", "--raw"))
    assert reference_docs.main(["--check", str(tmp_path)]) == 1
    said = capsys.readouterr().err
    assert str(tmp_path / "cli.md") in said and "schema.md" not in said and reference_docs.REGENERATE in said
