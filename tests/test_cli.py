"""The command line: --help everywhere, `inspect` and `compare` work, errors are one clear line
with a non-zero status."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from graphc.__main__ import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("command", [[], ["demo"], ["inspect"], ["compare"]])
def test_help_everywhere(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0 and "usage: graphc" in capsys.readouterr().out


def test_installed_entry_point_and_module_agree() -> None:
    out = subprocess.run([sys.executable, "-m", "graphc", "--help"], capture_output=True, text=True, check=True).stdout
    assert "inspect" in out and "compare" in out and "demo" in out


def test_inspect_prints_what_a_script_compiles(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["inspect", str(EXAMPLES / "recipe_chain_rule.py"), "--html", str(tmp_path / "r.html")]) == 0
    out = capsys.readouterr().out
    assert "# function 1 of 1" in out and "graph (x:f32[], y:f32[])" in out and "passes:" in out
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert main(["inspect", str(EXAMPLES / "recipe_chain_rule.py"), "--dot"]) == 0
    assert "digraph" in capsys.readouterr().out


def test_inspect_compiles_module_level_tensors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = tmp_path / "model.py"
    script.write_text("import graphc as gc\nx = gc.placeholder((3,), name='x')\ny = gc.tanh(x) * 2.0\n")
    assert main(["inspect", str(script)]) == 0
    assert "= tanh x" in capsys.readouterr().out


def test_inspect_shows_each_size_a_script_called_and_says_when_none(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "batches.py"
    script.write_text("import numpy as np\nimport graphc as gc\nx = gc.placeholder((None, 3), name='x')\n"
                      "f = gc.compile([x], gc.sum(gc.tanh(x)), backend='numpy')\n")
    assert main(["inspect", str(script)]) == 1
    assert "never calls it" in capsys.readouterr().err
    script.write_text(script.read_text() + "f(np.ones((2, 3), np.float32))\nf(np.ones((5, 3), np.float32))\n")
    assert main(["inspect", str(script)]) == 0
    out = capsys.readouterr().out
    assert "function 1 of 2" in out and "x:f32[2,3]" in out and "x:f32[5,3]" in out


@pytest.mark.parametrize("args, message", [
    (["inspect", "missing.py"], "no such script"),
    (["demo", "--steps", "0"], "--steps must be at least 1"),
    (["compare", "--workloads", "nope"], "unknown workloads"),
    (["compare", "--bench", "/nowhere"], "no peers.py"),
])
def test_errors_are_one_line_and_fail(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("graphc: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize("args", [["nope"], [], ["inspect"], ["demo", "--steps", "x"]])
def test_usage_mistakes_are_one_line_too(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("graphc") and err.count("\n") == 1 and "--help" in err


def test_a_failing_script_is_reported_with_its_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text("import graphc as gc\nx = gc.placeholder((3,), name='x')\ny = x @ x @ x\n")
    assert main(["inspect", str(script)]) == 1
    err = capsys.readouterr().err
    assert "broken.py" in err and err.count("\n") == 1


@pytest.mark.parametrize("raising", [
    "class Stop(BaseException):\n    pass\nraise Stop('x')",  # not an Exception
    "class Odd(Exception):\n    def __str__(self):\n        raise RuntimeError\nraise Odd()",  # unprintable
])
def test_any_script_failure_is_one_line(raising: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "odd.py").write_text(raising + "\n")
    assert main(["inspect", str(tmp_path / "odd.py")]) == 1
    err = capsys.readouterr().err
    assert "odd.py raised" in err and err.count("\n") == 1


def test_compare_times_compiled_and_eager(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--workloads", "mlp_small", "--peers", "graphc", "graphc_eager", "--steps", "3"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("peers found: ")
    assert lines[1].split()[:3] == ["workload", "runner", "median"]
    assert lines[2].split()[:2] == ["mlp_small", "graphc"] and "1.00x" in lines[2]
    assert lines[3].split()[:2] == ["mlp_small", "graphc_eager"]
    assert lines[2].split()[5] == lines[3].split()[5]  # the same first loss
    assert "[1/2] mlp_small on graphc ..." in captured.err and "[2/2]" in captured.err


def test_compare_says_which_peers_it_skipped_and_why(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("torch", "jax") else real(name, *a))
    assert main(["compare", "--workloads", "mlp_small", "--peers", "graphc", "--steps", "2"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == ("peers found: none; skipped torch: torch is not installed (pip"
                                                       " install torch); skipped torch_compile: torch is not installed"
                                                       " (pip install torch); skipped jax: jax is not installed (pip"
                                                       " install jax jaxlib)")
    assert main(["compare", "--workloads", "mlp_small", "--peers", "jax"]) == 1
    assert "jax is not installed" in capsys.readouterr().err


def test_the_peers_carried_with_graphc_compute_the_same_step() -> None:
    pytest.importorskip("torch")
    from graphc.cli.peers import build_peer
    from graphc.cli.workloads import WORKLOADS, GraphcRunner, make_data

    for name in ("mlp_small", "cnn_small", "transformer_small", "ln_gelu"):
        wl, data = dict(WORKLOADS[name], name=name), make_data(name)
        ours, theirs = GraphcRunner(wl, data, backend="numpy"), build_peer("torch", wl, data)
        a, b = ours.step(), theirs.step()
        assert abs(ours.loss_value(a) - theirs.loss_value(b)) <= 1e-5 * abs(ours.loss_value(a))
        for u, v in zip(ours.check_arrays(a), theirs.check_arrays(b)):
            np.testing.assert_allclose(u, v, rtol=2e-3, atol=2e-5)


def test_inspect_dot_keeps_the_scripts_prints_off_stdout(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from graphc.__main__ import main

    script = tmp_path / "model.py"
    script.write_text("import graphc as gc\nprint('hello')\nx = gc.placeholder((2,), name='x')\n"
                      "f = gc.compile([x], gc.exp(x))\n")
    assert main(["inspect", str(script), "--dot"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("digraph") and "hello" not in captured.out and "hello" in captured.err
