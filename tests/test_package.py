"""The installed package: a wheel built from the checkout runs from any folder."""

import re
import subprocess
import sys
import zipfile

import pytest
from conftest import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The checkout built as a wheel and installed (without dependencies) into a folder of its own."""
    tmp = tmp_path_factory.mktemp("package")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next((tmp / "dist").glob("scalefree-*.whl"))
    target = tmp / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return wheel, target


def run_installed(target, cwd, *args):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target), "HOME": str(cwd)}
    return subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_wheel_holds_the_photo_and_both_commands(installed):
    wheel, _ = installed
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        entry_points = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "scalefree/data/astronaut.png" in names
    assert not any(n.startswith(("tests/", "assets/", "bench/")) for n in names)
    assert re.search(r"^scalefree = scalefree\.cli\.commands:image_learn$", entry_points, re.M)
    assert re.search(r"^scalefree-movie = scalefree\.cli\.commands:make_movie$", entry_points, re.M)
    # Every subpackage and the viewer ship.
    for module in ("model.py", "api.py", "shapes/lines.py", "nn/trainer.py", "run/run.py", "formats/page.py"):
        assert f"scalefree/{module}" in names, module
    assert "scalefree/data/viewer.html" in names


def test_installed_command_trains_the_bundled_photo_from_another_folder(installed, tmp_path):
    _, target = installed
    version = run_installed(target, tmp_path, str(target / "bin" / "scalefree"), "--version")
    assert version.returncode == 0 and re.fullmatch(r"scalefree \d+\.\d+\.\d+\n", version.stdout)
    where = run_installed(target, tmp_path, sys.executable, "-c", "import scalefree; print(scalefree.__file__)")
    assert where.stdout.startswith(str(target)), where.stdout
    result = run_installed(
        target, tmp_path, sys.executable, "-m", "scalefree", "-d", "4", "-n", "4", "-c", "1", "--no_display", "-p", "8"
    )
    assert result.returncode == 0, result.stderr
    assert "astronaut" in result.stdout and re.search(r"^cycle\s+1\b", result.stdout, re.M)
    assert list((tmp_path / "output").glob("astronaut_*.pkl"))
