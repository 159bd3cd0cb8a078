"""The package as a user installs it, not the editable checkout: a wheel built from the repo,
installed with the pinned dependencies (constraints.txt) into a fresh venv without system
site-packages, and that venv's own `netflix-elt run` on the bundled sample, in a new process.

The wheel is built from a copy of the source (pyproject.toml, README.md, src/), so the build's
scratch (build/, *.egg-info) never lands in the repo. When the interpreter running the tests has
setuptools>=68 (what pyproject.toml requires) and `wheel`, the build is offline
(`--no-build-isolation`); otherwise pip fetches them into an isolated build environment, from the
package index that installing the dependencies needs anyway. (The .venv `make` creates has pip's
setuptools 65 and no `wheel`, so there it is the second way.) pip's own cache keeps a re-run to
about a minute.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    """The environment of the processes this test starts: nothing of the test venv or the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _sh(args: list[str | Path], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, (
        f"{' '.join(map(str, args))} exited {proc.returncode}\n"
        f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"
    )
    return proc


def _offline_build_backend() -> bool:
    """setuptools>=68 and wheel importable here, so the wheel can be built without the index."""
    try:
        import setuptools
        import wheel  # noqa: F401
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 68


def _source_copy(dst: Path) -> Path:
    dst.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dst / name)
    shutil.copytree(REPO / "src", dst / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    return dst


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel (and its pinned dependencies) installed; returns the venv."""
    root = tmp_path_factory.mktemp("wheel")
    src = _source_copy(root / "src")
    dist = root / "dist"
    isolation = ["--no-build-isolation"] if _offline_build_backend() else []
    _sh([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", dist, src], cwd=root, timeout=300)
    wheels = list(dist.glob("netflix_elt-*.whl"))
    assert len(wheels) == 1, wheels

    venv = root / "venv"
    _sh([sys.executable, "-m", "venv", venv], cwd=root, timeout=120)
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    _sh(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", "-c", REPO / "constraints.txt", wheels[0]],
        cwd=root,
        timeout=600,
    )
    return venv


def test_wheel_installs_the_package_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    probe = (
        "import json, netflix_elt, importlib.metadata as m; d = m.distribution('netflix-elt'); "
        "print(json.dumps({'file': netflix_elt.__file__, 'version': d.version, "
        "'direct_url': d.read_text('direct_url.json')}))"
    )
    out = json.loads(_sh([installed / "bin" / "python", "-c", probe], cwd=tmp_path, timeout=60).stdout)
    assert Path(out["file"]).resolve().is_relative_to(installed.resolve()), out["file"]
    assert not Path(out["file"]).resolve().is_relative_to(REPO), out["file"]
    direct = json.loads(out["direct_url"] or "{}")
    assert direct.get("url", "").endswith(".whl"), direct  # installed from the wheel file
    assert not direct.get("dir_info", {}).get("editable"), direct
    # one version source: the package's __version__, which pyproject.toml reads (dynamic)
    assert "version" in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dynamic"]
    version = re.search(r'__version__ = "([^"]+)"', (REPO / "src/netflix_elt/__init__.py").read_text()).group(1)
    assert out["version"] == version
    shown = _sh([installed / "bin" / "netflix-elt", "--version"], cwd=tmp_path, timeout=60).stdout
    assert version in shown


def test_installed_entry_point_runs_the_sample(installed: Path, tmp_path: Path) -> None:
    home = tmp_path / "h"
    proc = _sh([installed / "bin" / "netflix-elt", "--home", home, "run"], cwd=tmp_path, timeout=600)
    assert (home / "netflix_dw.duckdb").is_file(), proc.stdout
    dashboard = home / "reports" / "dashboard.html"
    assert dashboard.is_file(), proc.stdout
    assert "<html" in dashboard.read_text(encoding="utf-8").lower()
    assert (home / "exports" / "manifest.json").is_file()
    assert list((home / "lookml").glob("*.lkml"))
    # It ran on the bundled sample (package data): its 8,807 titles are the current catalog.
    con = duckdb.connect(str(home / "netflix_dw.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from analytics_netflix_current").fetchone() == (8807,)
    finally:
        con.close()
