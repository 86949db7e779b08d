"""The README and the docs pages say what the project is: every link resolves, the commands
table lists every command, the study file shown runs, the package map lists the package.

`make docs` (mkdocs --strict) checks the links inside docs/; the README sits outside mkdocs'
docs_dir, so its links and their anchors into the pages are checked here, against the ids the
same Markdown extensions that mkdocs uses give each page's headings.
"""

from __future__ import annotations

import re
from functools import cache
from itertools import takewhile
from pathlib import Path

import markdown
import optuna
import pytest
import typer

from sweeper.cli import app
from sweeper.models.config import resolve_config
from sweeper.study.spec import call_search_space, load_study_file

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
# [text](target) and ![alt](target); a target never holds spaces or parentheses here
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """The text without its code: a link inside a code block or span is an example, not a link."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    text = re.sub(r"^(?: {4}|\t).*$", "", text, flags=re.MULTILINE)
    return re.sub(r"`[^`\n]*`", "", text)


def relative_links(page: Path) -> list[str]:
    targets = LINK.findall(_prose(page.read_text()))
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


@cache
def anchors(page: Path) -> frozenset[str]:
    """The ids mkdocs gives `page`: its default extensions (toc slugs headings)."""
    html = markdown.markdown(page.read_text(), extensions=["toc", "tables", "fenced_code"])
    return frozenset(re.findall(r'\sid="([^"]+)"', html))


def test_the_readme_has_links_and_every_relative_one_resolves() -> None:
    links = relative_links(README)
    assert any(link.startswith("docs/") and ".md" in link for link in links)
    assert "docs/mlflow-runs.png" in links
    assert any("#" in link for link in links)  # so the anchors below are checked at all
    broken = []
    for link in links:
        path, _, anchor = link.partition("#")
        target = (README.parent / path).resolve() if path else README
        if not target.is_file():
            broken.append(f"{link}: no such file")
        elif anchor and (target.suffix != ".md" or anchor not in anchors(target)):
            broken.append(f"{link}: no heading with the id {anchor!r} in {target.name}")
    assert not broken, broken


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {link.partition("#")[0] for link in relative_links(README)}
    pages = {str(p.relative_to(ROOT)) for p in DOCS.glob("*.md")}
    assert pages - linked == set()


def _commands(group: typer.core.TyperGroup, prefix: str) -> list[str]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, typer.core.TyperGroup):
            found += _commands(command, f"{prefix} {name}")
        else:
            found.append(f"{prefix} {name}")
    return found


def test_the_commands_table_lists_every_command_once() -> None:
    section = README.read_text().split("## Commands", 1)[1].split("\n## ", 1)[0]
    # a row's command is the leading lowercase words of its first cell: `sweeper data info [DIR]`
    cells = re.findall(r"^\| `(sweeper [^`]*)` \|", section, flags=re.MULTILINE)
    rows = [" ".join(takewhile(lambda w: w.isalpha() and w.islower(), c.split())) for c in cells]
    commands = _commands(typer.main.get_command(app), "sweeper")
    assert sorted(rows) == sorted(commands)


@pytest.mark.parametrize("page", [README, DOCS / "study-files.md"], ids=lambda p: p.name)
def test_the_study_file_shown_runs(page: Path, tmp_path: Path) -> None:
    blocks = re.findall(r"^```python\n(.*?)^```", page.read_text(), flags=re.M | re.S)
    (code,) = [b for b in blocks if "from sweeper import StudySpec" in b]
    path = tmp_path / f"shown_in_{page.stem.replace('-', '_')}.py"
    path.write_text(code)
    study_file = load_study_file(path)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    config = resolve_config(call_search_space(study_file, trial))
    assert config.family == "mlp"
    assert study_file.spec.train_frames == 60_000


def test_the_package_map_lists_every_module_once() -> None:
    page = (DOCS / "development.md").read_text()
    section = page.split("## Package map", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- `(sweeper/[\w/]+\.py)`: \S", section, flags=re.MULTILINE)
    modules = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "sweeper").rglob("*.py"))
    assert sorted(listed) == modules
    assert len(listed) == len(set(listed))


def test_the_readme_is_a_five_minute_read() -> None:
    assert len(README.read_text().splitlines()) <= 200
