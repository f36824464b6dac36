"""The report page and DOT text: self-contained, and rendered by a real headless browser
(Debian's chromium) with every picture present, no script error, and a screenshot saved."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import graphc as gc

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def trained_step() -> gc.Function:
    rng = np.random.default_rng(0)
    x = gc.placeholder((32, 20), name="x")
    y = gc.placeholder((32,), "int64", name="y")
    w0 = gc.variable((rng.standard_normal((20, 16)) * 0.3).astype(np.float32), name="W0")
    b0 = gc.variable(np.full(16, -0.5, np.float32), name="b0")
    w1 = gc.variable((rng.standard_normal((16, 10)) * 0.3).astype(np.float32), name="W1")
    loss = gc.mean(gc.softmax_cross_entropy(gc.relu(x @ w0 + b0) @ w1, y))
    f = gc.compile([x, y], loss, updates=gc.optim.sgd(loss, [w0, b0, w1], 0.1), gradient_flow=True)
    f(rng.standard_normal((32, 20)).astype(np.float32), rng.integers(0, 10, 32))
    return f


def test_gradient_flow_is_recorded_and_reported(trained_step: gc.Function) -> None:
    flow = trained_step.gradient_flow()
    assert flow is not None and flow.step == 1
    assert set(flow.gradient_norms) == {"W0", "b0", "W1"} and all(v > 0 for v in flow.gradient_norms.values())
    (dead,) = flow.dead_relu.values()
    assert 0.0 <= dead <= 1.0
    assert "|grad W0|" in trained_step.report()


def test_gradient_flow_needs_an_optimizer_step() -> None:
    x = gc.placeholder((2,), name="x")
    with pytest.raises(gc.GraphError, match="gc.optim"):
        gc.compile([x], x * 2.0, gradient_flow=True)


def test_parameters_of_one_name_each_get_their_norm_and_a_nan_norm_is_drawn_apart(tmp_path: Path) -> None:
    # found by a break-it review: norms were keyed by name (layers made by one helper kept one),
    # and a NaN norm wrote width="nan" into the page's SVG, and every bar after it too
    x = gc.placeholder((3,), name="x")
    params = [gc.variable(np.ones(3, np.float32), name="W") for _ in range(3)]
    loss = gc.sum(params[0] * x) + gc.sum(params[1] * x * 2.0) + gc.sum(params[2] * 3.0)
    f = gc.compile([x], loss, updates=gc.optim.sgd(loss, params, 0.1), gradient_flow=True)
    f(np.array([np.nan, 1.0, 1.0], np.float32))
    norms = f.gradient_flow().gradient_norms
    assert list(norms) == ["W", "W#2", "W#3"] and np.isnan(norms["W#2"]) and norms["W#3"] == np.sqrt(27.0)
    page = Path(f.save_html(tmp_path / "page.html")).read_text()
    assert "nan" not in re.sub(r">[^<]*<", "><", page.split("<h2>Gradient flow")[1].split("<h2>")[0])


def test_dot_gives_every_node_its_own_id() -> None:
    # names that read like numbered ones, a placeholder named like an output marker, a NUL
    a, b, c = (gc.variable(np.ones(2, np.float32), name=n) for n in ("w", "w", "w#2"))
    x, y = gc.placeholder((2,), name="out0"), gc.placeholder((2,), name="\x00")
    f = gc.compile([x, y], gc.sum(a * x + b * x + c * y), optimize=False, backend="numpy")
    dot = f.to_dot()
    ids = re.findall(r'^\s*("(?:[^"\\]|\\.)*") \[label', dot, re.M)
    assert len(ids) == len(set(ids)) == len([n for n in f.graph.nodes if n.op.name != "constant"]) + 1
    assert "\x00" not in dot and '"\\x00"' in dot


def test_dot_has_clusters_colours_and_shapes(trained_step: gc.Function) -> None:
    dot = trained_step.to_dot()
    assert dot.startswith('digraph "graphc" {') and dot.rstrip().endswith("}")
    assert dot.count("subgraph cluster_") == len(trained_step.graph.groups) > 0
    assert "doubleoctagon" in dot and "ellipse" in dot  # variables, placeholders
    assert "#fbe3c8" in dot and "#dbe9f6" in dot  # backward and forward colours
    assert '[label="f32[32,16]"]' in dot  # shapes on edges
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg"], input=dot.encode(), check=True, capture_output=True)


def test_page_is_self_contained(trained_step: gc.Function, tmp_path: Path) -> None:
    page = trained_step.save_html(tmp_path / "report.html").read_text()
    assert "<link" not in page and not re.search(r"\bsrc=", page)
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page)  # only the SVG namespace
    for heading in ("Passes", "The graph as built", "After fuse", "Fusion groups", "Memory plan", "Loss curve",
                    "Gradient flow"):
        assert f"<h2>{heading}</h2>" in page
    assert page.count("<svg") == 2 + len(trained_step.passes) + 3  # graphs, memory, loss curve, two bar charts


def test_page_renders_in_headless_chromium(trained_step: gc.Function, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (Debian package 'chromium'; .ci/run installs it when it can)")
    page = trained_step.save_html(tmp_path / "report.html")
    flags = [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([browser, *flags, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None, dom[:500]
    attrs = dict(re.findall(r'data-(\w+)="(\d+)"', body.group(1)))
    n_pictures = page.read_text().count("<svg")
    assert attrs == {"pictures": str(n_pictures), "empty": "0", "errors": "0"}
    shot = Path(os.environ.get("GRAPHC_SCREENSHOT_DIR", tmp_path)) / "report.png"
    subprocess.run([browser, *flags, "--window-size=1400,2400", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000


def test_an_unwritable_page_is_a_clear_error(trained_step: gc.Function, tmp_path: Path) -> None:
    with pytest.raises(gc.GraphcError, match="save_html: cannot write"):
        trained_step.save_html(tmp_path / "missing" / "report.html")


def test_pictures_name_nodes_the_same_in_every_pass_and_show_what_each_changed(trained_step: gc.Function) -> None:
    from graphc.inspection.pictures import graph_svg, stable_names

    before = set(stable_names(trained_step.source_graph).values())
    after_all = set(stable_names(trained_step.graph).values())
    assert len(before & after_all) >= len(after_all) // 2  # most values keep their name through every pass
    assert all("@" in name or name in {"x", "y"} or name.startswith(("W", "b")) for name in after_all)
    x = gc.placeholder((4, 3), name="x")
    twice = gc.sqrt(gc.sum(x * x)) + gc.sqrt(gc.sum(x * x))  # the same sqrt written twice: cse merges it
    f = gc.compile([x], twice, backend="numpy")
    cse = next(r for r in f.passes if r.name == "cse")
    picture = graph_svg(cse.graph, "after cse", f.passes[f.passes.index(cse) - 1].graph)
    removed = re.search(r"0 nodes added \(green\), (\d+) removed: ([^<]*)<", picture)
    assert removed and int(removed.group(1)) == 3 and "sqrt@" in removed.group(2) and 'class="zoomable"' in picture
    fused = graph_svg(trained_step.graph, "after fuse", trained_step.graph)
    assert "no node added or removed" in fused and fused.count("fused loop") + fused.count("fused rows") == len(
        trained_step.graph.groups)


def test_a_loop_is_a_box_holding_its_body_on_the_page_and_in_dot(tmp_path: Path) -> None:
    xs = gc.placeholder((5, 3, 4, 2), "float32", name="xs")
    w = gc.variable(np.full((2, 2), 0.1, np.float32), name="W")

    def outer(h, row):  # type: ignore[no-untyped-def]
        inner, _ = gc.scan(lambda g, x: (gc.tanh(g @ w + x), None), h, row)  # a loop in the loop
        return inner, inner

    _, hs = gc.scan(outer, gc.constant(np.zeros((4, 2), np.float32)), xs)
    loss = gc.mean(hs * hs)
    f = gc.compile([xs], loss, updates={w: w - 0.1 * gc.grad(loss, w)})
    f(np.ones((5, 3, 4, 2), np.float32))
    html = f.save_html(tmp_path / "loops.html").read_text()
    loops = html[html.index("<h2>Loops and conds</h2>"):html.index("<h2>Fusion groups</h2>")]
    assert loops.count("5 steps") >= 2 and loops.count("3 steps") >= 2  # forward and backward, each nesting one
    assert "(reversed)" in loops and "loop@" in loops and "› " in loops  # nested boxes name their path
    assert ">carry " in loops and ">x xs<" in loops and ">reads W<" in loops and "→ y 0" in loops
    dot = f.to_dot()
    assert 'subgraph "cluster_loop@' in dot and "body, 5 steps" in dot and "body, 3 steps" in dot
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed")
    page = tmp_path / "loops.html"
    flags = [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([browser, *flags, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    attrs = dict(re.findall(r'data-(\w+)="(\d+)"', re.search(r"<body([^>]*)>", dom).group(1)))  # type: ignore[union-attr]
    assert attrs == {"pictures": str(html.count("<svg")), "empty": "0", "errors": "0"}
