"""The README's package map lists the package as it is."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_the_package_map_lists_every_module_once() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Package map", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- `(sweeper/[\w/]+\.py)`: \S", section, flags=re.MULTILINE)
    modules = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "sweeper").rglob("*.py"))
    assert sorted(listed) == modules
    assert len(listed) == len(set(listed))
