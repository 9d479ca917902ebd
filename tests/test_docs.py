"""The documentation's relative links resolve, to a file and, with a #fragment, to a heading in it
(its $ sessions are run by doc_sessions.py, collected from README.md and docs/)."""

import re

import pytest

from conftest import ROOT

PAGES = [ROOT / "README.md", ROOT / "notes.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchors(page) -> set[str]:
    """GitHub's anchors for a page's headings."""
    found = set()
    for line in page.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # (not inside code)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(target)
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(target)
    assert not broken, f"{page.name}: links that lead nowhere: {broken}"


def test_the_readme_is_a_tour():
    readme = (ROOT / "README.md").read_text()
    assert readme.count("\n") <= 150
    quick = readme.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = quick.strip().splitlines()
    assert len(commands) == 2 and all(c.startswith("python3 -m venv .venv && ") for c in commands)
