"""Nothing a user names reaches generated code, and the compile cache is never someone else's.

Generated programs are Python source; tensor names and the user's file names appear in it only
inside comments, through a filter that keeps printable ASCII. Numba's cache index is a pickle:
graphc creates the cache folder private (0700) and refuses one that others could write.
"""

from __future__ import annotations

import os
import pathlib
import runpy
import stat
import warnings

import numpy as np
import pytest

import graphc as gc
from graphc.backends.numba import program as native

PAYLOAD = "\nimport os; open({marker!r}, 'w').write('ran')\n#"


def test_hostile_tensor_names_stay_comments(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "pwned"
    hostile = PAYLOAD.format(marker=str(marker))
    w = gc.variable(np.ones(3), name="w" + hostile)
    x = gc.placeholder((3,), "float64", name="x" + hostile)
    loss = gc.sum(x * w)
    for backend in ("python", "numba"):
        f = gc.compile([x], loss, updates={w: w - 0.5 * x}, backend=backend)
        f(np.ones(3))
        assert not marker.exists(), "a name was run as code"
        text = f._native.text  # type: ignore[union-attr]
        assert all(not line.lstrip().startswith("import os") for line in text.splitlines())
    np.testing.assert_allclose(w.value, [0.0, 0.0, 0.0])


def test_a_user_file_with_an_odd_name(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "pwned"
    folder = tmp_path / "odd\n    import os; os.system('touch pwned')\n"
    folder.mkdir()
    script = folder / "model\n\tx = 1.py"
    script.write_text(
        "import numpy as np\nimport graphc as gc\n"
        "x = gc.placeholder((2,), 'float64', name='x')\n"
        "f = gc.compile([x], gc.tanh(x) * 2.0)\n"
        "result = f(np.array([0.0, 1.0]))\n"
    )
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = runpy.run_path(str(script))["result"]
    finally:
        os.chdir(cwd)
    np.testing.assert_allclose(result, [0.0, 2 * np.tanh(1.0)])
    assert not marker.exists()


def test_generated_comments_keep_printable_ascii_only() -> None:
    from graphc.backends.numba.emit import safe_text

    assert safe_text("a\nb\r\x00c\u2028d") == "a?b??c?d"
    assert len(safe_text("x" * 1000)) == 200


def _compile_with_cache(folder: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> gc.Function:
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(folder))
    monkeypatch.setattr(native, "_warned", set())
    x = gc.placeholder((2,), "float64", name="x")
    return gc.compile([x], x * 3.0 + float(hash(str(folder)) % 1000))


def test_the_cache_folder_is_created_private(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "new" / "cache"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = _compile_with_cache(folder, monkeypatch)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert f._native is not None and f._native.path is not None and f._native.path.parent == folder


@pytest.mark.parametrize("kind", ["writable by others", "a file", "unwritable"])
def test_an_unsafe_or_unusable_cache_folder_is_refused(
    kind: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cache"
    if kind == "a file":
        folder.write_text("not a folder")
    else:
        folder.mkdir()
        folder.chmod(0o777 if kind == "writable by others" else 0o500)
    if kind == "unwritable" and os.access(folder, os.W_OK):
        pytest.skip("running as root: every folder is writable")
    with pytest.warns(gc.GraphcWarning, match="not caching compiled code") as caught:
        f = _compile_with_cache(folder, monkeypatch)
    assert {w.filename for w in caught if issubclass(w.category, gc.GraphcWarning)} == {__file__}  # the user's line
    assert f(np.array([1.0, 2.0]))[0] > 0  # it still compiles and runs
    assert f._native is not None and (f._native.path is None or f._native.path.parent != folder)
    if kind != "a file":
        assert not any(folder.iterdir()), "nothing was written to the refused folder"


def test_with_no_writable_folder_at_all_it_compiles_in_memory(tmp_path: pathlib.Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def no_folder(*args: object, **kwargs: object) -> str:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(native.tempfile, "mkdtemp", no_folder)
    monkeypatch.setattr(native, "_private_dir", None)
    folder = tmp_path / "cache"
    folder.write_text("not a folder")
    with pytest.warns(gc.GraphcWarning):
        f = _compile_with_cache(folder, monkeypatch)
    assert f._native is not None and f._native.path is None
    assert f(np.array([1.0, 2.0]))[0] > 0
    assert "in memory" in f.report()
