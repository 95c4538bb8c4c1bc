"""The README and docs/ a newcomer reads: they speak of this repository alone, and every link and file they name
is there."""

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_LINES = 150
# What a clone does not have: a folder beside it, files and tools of the place the project was written in.
OUTSIDE = {"a folder beside the repository": re.compile(r"\.\./shared"),
           "a design file not in the repository": re.compile(r"DESIGN\.md"),
           "an issue number": re.compile(r"\bissues?\s*#?\d+", re.IGNORECASE),
           "an issue's targets": re.compile(r"\bthe issue's\b", re.IGNORECASE),
           "a tool of another workplace": re.compile(r"farm-bench")}
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
# A path in backticks under one of the repository's own folders, such as `index/store/chroma.py`.
REPO_PATH = re.compile(r"`((?:index|fit|bot|tests|bench|scripts|seeds|docs|deploy)/[\w./*-]+)`")


def anchors(page: Path) -> set[str]:
    """The anchors GitHub makes of a page's headings: lower case, punctuation dropped, spaces as hyphens, and a
    number after a heading's second use."""
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in found:
            n += 1
            anchor = f"{slug}-{n}"
        found.add(anchor)
    return found


def test_the_pages_exist() -> None:
    """The README and the pages it sends readers to are all there."""
    assert {page.name for page in PAGES} >= {"README.md", "operating.md", "discord.md", "answers.md",
                                             "architecture.md", "scale.md", "development.md"}


def test_the_readme_is_a_front_page() -> None:
    """The README stays short enough to read in a few minutes; the rest is in docs/."""
    lines = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert lines <= README_LINES, f"README.md has {lines} lines; move detail into docs/ (at most {README_LINES})"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_a_page_names_nothing_outside_the_repository(page: Path) -> None:
    """No page names a folder beside the clone, a design file, an issue number or a tool the clone lacks."""
    text = page.read_text(encoding="utf-8")
    named = [f"{what}: {match.group(0)!r} on line {text.count(chr(10), 0, match.start()) + 1}"
             for what, pattern in OUTSIDE.items() for match in pattern.finditer(text)]
    assert not named, f"{page.name} names what a clone does not have: {named}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_leads_somewhere(page: Path) -> None:
    """Every link to a file of the repository points at a file that exists, and at a heading it has."""
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):  # https:, mailto:: outside the repository, not checked here
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no file {path}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    assert not broken, f"{page.name} has broken links: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_file_a_page_names_exists(page: Path) -> None:
    """A path the page names in the repository's own folders (a module, a test, a script) is there."""
    missing = [path for path in REPO_PATH.findall(page.read_text(encoding="utf-8"))
               if not any(ROOT.glob(path.rstrip("/")))]
    assert not missing, f"{page.name} names files that are not in the repository: {missing}"


def test_the_architecture_names_each_module_once() -> None:
    """docs/architecture.md's map names every module of index/, fit/ and bot/ exactly once, so a newcomer finds each
    from it, and names no module that is gone."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    start = text.index("## Packages and modules")
    section = text[start : text.index("\n## ", start + 1)]
    named = re.findall(r"^- `((?:index|fit|bot)/[\w/]+\.py)`", section, re.MULTILINE)
    modules = sorted(str(path.relative_to(ROOT)) for package in ("index", "fit", "bot")
                     for path in (ROOT / package).rglob("*.py") if path.name != "__init__.py")
    twice = sorted({name for name in named if named.count(name) > 1})
    assert not twice, f"named more than once: {twice}"
    assert sorted(named) == modules, (f"not named: {sorted(set(modules) - set(named))}; "
                                      f"gone: {sorted(set(named) - set(modules))}")
