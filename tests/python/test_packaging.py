"""The installed package: what it carries (libnbcore, the emulator, stubs, py.typed), stubs that match
the extension, and a public API that is documented and exercised by these tests."""

from __future__ import annotations

import ast
import glob
import os

import nbcore
from nbcore import _nbcore

PKG = os.path.dirname(os.path.abspath(nbcore.__file__))
TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(TESTS))


def test_the_installed_package_is_under_test():
    assert not PKG.startswith(os.path.join(REPO, "bindings")), f"testing the source tree: {PKG}"
    assert os.path.dirname(os.path.abspath(_nbcore.__file__)) == PKG


def test_the_package_carries_the_library_the_emulator_and_type_information():
    for name in ("py.typed", "_nbcore.pyi", "libnbcore.so.0", os.path.join("bin", "nbcore-emulator")):
        assert os.path.exists(os.path.join(PKG, name)), name
    assert glob.glob(os.path.join(PKG, "_nbcore*.so"))
    with open("/proc/self/maps") as f:   # the module found libnbcore next to itself ($ORIGIN)
        loaded = {line.split()[-1] for line in f if "libnbcore.so" in line}
    assert loaded == {os.path.join(PKG, "libnbcore.so.0")}
    assert _nbcore.ABI_VERSION_STRING == nbcore.__version__


def _stub_names(tree):
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out[node.name] = None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = None
        elif isinstance(node, ast.ClassDef):
            out[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)
                              and not (n.name.startswith("__") and n.name != "__init__")}
    return out


def test_the_extension_stub_matches_the_extension():
    with open(os.path.join(PKG, "_nbcore.pyi")) as f:
        stub = _stub_names(ast.parse(f.read()))
    real = {n for n in dir(_nbcore) if not n.startswith("__")}
    assert set(stub) == real
    for name, methods in stub.items():
        if methods is None:
            continue
        cls = getattr(_nbcore, name)
        have = {m for m in vars(cls) if not m.startswith("__") and not m.startswith("_pybind11")}
        if "__init__" in methods:
            have.add("__init__")
        assert methods - {"__init__"} == have - {"__init__"}, name


def test_every_public_name_is_documented_and_tested():
    sources = ""
    for path in glob.glob(os.path.join(TESTS, "*.py")):
        if os.path.basename(path) != os.path.basename(__file__):
            with open(path) as f:
                sources += f.read()
    for name in nbcore.__all__:
        obj = getattr(nbcore, name)
        if callable(obj):
            assert obj.__doc__, f"nbcore.{name} has no docstring"
        assert f"nbcore.{name}" in sources, f"no test uses nbcore.{name}"
    for name in ("generate", "submit", "generate_async", "usage", "usage_text"):
        assert f".{name}(" in sources, f"no test calls Client.{name}"
    for name in ("progress", "wait(", "cancel(", "result("):
        assert f"job.{name}" in sources, f"no test uses Job.{name}"
