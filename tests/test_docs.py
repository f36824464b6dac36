"""The docs stand alone: the API reference is current and names every public name, and no link
in README.md or docs/ leaves the repository."""

from __future__ import annotations

import importlib.util
import pathlib
import re

import graphc as gc

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_the_api_reference_is_generated_from_the_current_code() -> None:
    spec = importlib.util.spec_from_file_location("api_md", ROOT / "docs" / "api_md.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (ROOT / "docs" / "api.md").read_text()
    assert page == module.render(), "docs/api.md is stale: run python docs/api_md.py"
    missing = [n for n in gc.__all__ if f"`gc.{n}" not in page]
    assert not missing, missing


def test_the_loop_picture_is_drawn_from_the_current_code() -> None:
    spec = importlib.util.spec_from_file_location("loop_svg", ROOT / "docs" / "loop_svg.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "loop.svg").read_text() == module.render(), "docs/loop.svg is stale: run python docs/loop_svg.py"


def test_no_link_leaves_the_repository() -> None:
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        prose = re.sub(r"`[^`]*`", "", re.sub(r"```.*?```", "", path.read_text(), flags=re.S))  # links, not code
        for target in re.findall(r"\]\(([^)]+)\)", prose):
            if target.startswith("#"):
                continue
            assert "://" not in target, f"{path.name} links outside: {target}"
            resolved = (path.parent / target.split("#")[0]).resolve()
            assert resolved.is_relative_to(ROOT) and resolved.exists(), f"{path.name}: {target}"


def test_dir_shows_the_public_api() -> None:
    names = dir(gc)
    assert "conv2d" in names and "optim" in names and "eager" in names
    assert "builder" not in names and "opdef" not in names and "backends" not in names
