"""The docs match the code: the generated reference pages are current, every path and link they give
exists, the README links every page, and every configuration key is documented."""

from __future__ import annotations

import re
import tomllib

import pytest

from star_pipeline import reference_docs
from star_pipeline.config import _SCHEMA, _flat, _source_keys
from star_pipeline.sources import with_messages
from star_pipeline_tests.conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"
README = REPO_ROOT / "README.md"
PAGES = sorted(DOCS.rglob("*.md"))
NUMBER_WORDS = {8: "eight", 9: "nine", 10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen", 14: "fourteen",
                15: "fifteen", 16: "sixteen", 17: "seventeen", 18: "eighteen"}


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


_PACKAGE_PATH = re.compile(r"(?<![\w./-])((?:star_pipeline|star_pipeline_tests)/[\w./<>{}*-]*)")


def mentioned_package_paths(text: str) -> set[str]:
    """Every `star_pipeline/...` path a text names, cut before its first placeholder (`<agent>`, `{a,b}`, `*`,
    `NNN`)."""
    found = set()
    for path in _PACKAGE_PATH.findall(text):
        path = re.split(r"[<{*]|NNN", path)[0].rstrip(".,;:)")
        found.add(path)
    return found


_SHORT_PATH = re.compile(r"`([a-z_][\w-]*/[\w./-]*\.(?:py|sql|yaml|json|md))`")


def mentioned_short_paths(text: str) -> set[str]:
    """Paths in backticks given from inside the package (`storage/table_docs.py`, `raw/tables.py`)."""
    return {re.split(r"NNN", path)[0] for path in _SHORT_PATH.findall(text) if not path.startswith("star_pipeline")}


def exists_in_checkout_or_wheel(path: str) -> bool:
    """In the checkout, or in an installed package: pyproject's package-dir puts `star_pipeline/defaults/` and
    `star_pipeline/migrations/` of a wheel in config/ and migrations/ of the checkout."""
    if (REPO_ROOT / path).exists():
        return True
    package_dirs = tomllib.loads(read(REPO_ROOT / "pyproject.toml"))["tool"]["setuptools"].get("package-dir", {})
    for package, folder in package_dirs.items():
        installed = package.replace(".", "/")
        if path == installed or path.startswith(installed + "/"):
            return (REPO_ROOT / folder / path[len(installed):].lstrip("/")).exists()
    return False


def test_every_package_path_the_readme_and_docs_mention_exists():
    """docs/design/ is left out: its studies are dated records of the code as it was when they were written."""
    current = [page for page in PAGES if "design" not in page.relative_to(DOCS).parts]
    missing = sorted(f"{page.relative_to(REPO_ROOT)}: {path}" for page in [README, *current]
                     for path in mentioned_package_paths(read(page)) if not exists_in_checkout_or_wheel(path))
    missing += sorted(f"{page.relative_to(REPO_ROOT)}: {path}" for page in [README, *current]
                      for path in mentioned_short_paths(read(page))
                      if not any((base / path).exists() for base in (REPO_ROOT, REPO_ROOT / "star_pipeline")))
    assert not missing, "paths named in the docs that do not exist:\n" + "\n".join(missing)


_LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(page) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens, a repeated
    one numbered (-1, -2 ...)."""
    found: set[str] = set()
    in_code = False
    for line in read(page).splitlines():
        if line.startswith("```"):
            in_code = not in_code
        heading = re.match(r"^#{1,6} (.+)$", line)
        if heading and not in_code:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            number, unique = 0, slug
            while unique in found:
                number += 1
                unique = f"{slug}-{number}"
            found.add(unique)
    return found


def test_every_relative_link_and_image_of_the_readme_and_docs_resolves():
    """To a file that exists, and to a heading of it when the link names one."""
    broken = []
    for page in [README, *PAGES]:
        for target in _LINK.findall(read(page)):
            if re.match(r"^[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = page.parent / path if path else page
            if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
                broken.append(f"{page.relative_to(REPO_ROOT)}: {target}")
    assert not broken, "links to nothing:\n" + "\n".join(broken)


def test_the_readme_links_every_docs_page_and_stays_short():
    readme = read(README)
    unlinked = [str(page.relative_to(REPO_ROOT)) for page in PAGES if f"]({page.relative_to(REPO_ROOT)})" not in readme]
    assert not unlinked, f"the README's 'Where to read more' does not link {unlinked}"
    assert len(readme.splitlines()) <= 250


def test_every_configuration_key_is_in_the_configuration_reference():
    page = read(DOCS / "reference" / "configuration.md")
    keys = _flat({**_SCHEMA, "sources": _source_keys()})
    missing = sorted(key for key in keys if f"| `{key}` |" not in page)
    assert not missing, f"docs/reference/configuration.md has no row for {missing}"


def test_the_package_description_and_the_readme_count_the_agents_there_are():
    word = NUMBER_WORDS[len(with_messages())]
    description = tomllib.loads(read(REPO_ROOT / "pyproject.toml"))["project"]["description"]
    assert f" {word} " in description, description
    assert f" {word} coding agents" in " ".join(read(README).split("\n\n")[1].split())
