"""The layers of the package, held: only scalefree.nn imports TensorFlow, and the numpy side never needs it."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "scalefree"
FRAMEWORKS = ("tensorflow", "keras")
# What each part may import of the package, at the top of a module or inside a function.
MAY_USE = {
    "shapes": {"shapes", "plane", "errors"},
    "plane": {"plane", "shapes", "errors"},
    "formats": {"formats", "model", "config", "history", "shapes", "plane", "errors", "native"},
    "nn": {"nn", "model", "config", "history", "shapes", "plane", "errors", "native"},
    "run": {"run", "nn", "formats", "model", "config", "history", "plane", "shapes", "errors"},
    "cli": {"cli", "run", "formats", "config", "errors", "__version__"},
}


def imports(path):
    """(module imported, at the top level?) for every import in a module, relative ones made absolute."""
    tree = ast.parse(path.read_text())
    parts = path.relative_to(ROOT).with_suffix("").parts
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(parts[: len(parts) - node.level])
                name = ".".join(base + ([node.module] if node.module else []))
                names = [name] if node.module else [f"{name}.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
            found += [(name, id(node) in top) for name in names]
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_tensorflow_part_imports_tensorflow(path):
    inside = path.relative_to(PACKAGE).parts[0] == "nn"
    frameworks = [name for name, _ in imports(path) if name.split(".")[0] in FRAMEWORKS]
    assert inside or not frameworks, frameworks


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_part_imports_only_the_parts_below_it(path):
    part = path.relative_to(PACKAGE).parts[0]
    if part not in MAY_USE:
        return  # the top-level modules: the API, the model, the config
    used = {name.split(".")[1] for name, _ in imports(path) if name.startswith("scalefree.") and name.count(".") >= 1}
    assert used <= MAY_USE[part], used - MAY_USE[part]
    # Below the command line, TensorFlow's part is loaded only when training starts, never on import.
    if part != "nn":
        eager = [name for name, top in imports(path) if top and name.startswith("scalefree.nn")]
        assert not eager, eager


def test_every_top_level_module_imports_without_tensorflow():
    code = (
        "import sys, importlib, pkgutil, scalefree; "
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(scalefree.__path__, 'scalefree.') "
        " if not m.name.startswith(('scalefree.nn', 'scalefree.__main__'))]; "
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('tensorflow', 'keras')); assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_just_image_with_its_exports_never_loads_tensorflow(trained_models, tmp_path):
    code = (
        "import sys; from scalefree.cli.commands import image_learn; "
        "assert image_learn(sys.argv[1:]) == 0; "
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('tensorflow', 'keras')); assert not bad, bad"
    )
    for kind in ("linear", "circular", "relu"):
        args = ["--just_image", "-m", str(trained_models[kind]), "-x", "4", "-o", str(tmp_path / f"{kind}.png")]
        if kind != "relu":
            args += ["--svg", str(tmp_path / f"{kind}.svg"), "--html", str(tmp_path / f"{kind}.html")]
        result = subprocess.run(
            [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert Path(tmp_path / f"{kind}.png").exists()
