"""The README's quick start runs as written, and the demo trains and agrees with eager mode."""

from __future__ import annotations

import contextlib
import io
import pathlib
import re

from graphc.cli.demo import run

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_opens_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert first_block is not None and text.index("```sh") < text.index("## ")
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]


def test_readme_quick_start_runs() -> None:
    text = (ROOT / "README.md").read_text()
    code = re.search(r"## Quick start\n\n```python\n(.*?)```", text, re.S)
    assert code is not None
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(code.group(1), "README.md", "exec"), {})
    assert "tensor(5.)" in buffer.getvalue()


def test_demo_trains_compares_and_writes_the_page(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    page = tmp_path / "demo.html"
    figures = run(steps=60, html=str(page), out=lines.append, tty=False)
    assert figures["final_loss"] < 0.5 * figures["first_loss"]
    assert figures["loss_difference"] < 1e-5  # compiled and eager SGD steps: the same losses
    bars = [line for line in lines if line.startswith("  [")]
    assert bars[0].startswith("  [") and "60/60" in bars[-1]  # the progress bar
    assert "<h2>Gradient flow</h2>" in page.read_text() and any("report page" in line for line in lines)


def test_command_line_runs_the_demo(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from graphc.__main__ import main

    assert main(["demo", "--steps", "5", "--html", str(tmp_path / "page.html")]) == 0
    assert "step time: compiled" in capsys.readouterr().out and (tmp_path / "page.html").exists()
