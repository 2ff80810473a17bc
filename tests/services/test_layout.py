"""The shape of surveyd/services: capability packages whose imports point one way, as their docstrings say."""
from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import surveyd.services

ORDER = ["access", "audit", "audience", "design", "dispatch", "insight", "health", "privacy", "integrations", "alerts",
         "intake", "answers", "sandbox"]
SERVICES = Path(__file__).resolve().parents[2] / "surveyd" / "services"
SHARED = {"config_cache", "errors", "row_writes", "runtime", "tokens"}
# The layers above services: a service importing one of them would point a dependency the wrong way.
CALLERS = {"api", "web", "webhooks", "console", "server", "cli", "tasks"}


def capabilities() -> list[str]:
    return sorted(path.name for path in SERVICES.iterdir() if (path / "__init__.py").exists())


def imported_modules(path: Path) -> set[str]:
    """Every surveyd module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "surveyd"}


def used_capabilities(package: str) -> set[str]:
    """The other capability packages a package's modules import."""
    names = set(capabilities())
    used = set()
    for path in (SERVICES / package).rglob("*.py"):
        for module in imported_modules(path):
            parts = module.split(".")
            if parts[:2] == ["surveyd", "services"] and len(parts) > 2 and parts[2] in names:
                used.add(parts[2])
    return used - {package}


def declared_uses(package: str) -> set[str]:
    """The capabilities named on the "Uses:" line of the package's docstring."""
    doc = importlib.import_module(f"surveyd.services.{package}").__doc__ or ""
    match = re.search(r"^Uses: (.+?)\.?$", doc, re.M)
    assert match, f"surveyd/services/{package}/__init__.py has no 'Uses: ...' line"
    text = match.group(1)
    return set() if text.startswith("nothing") else {name.strip() for name in text.split(",")}


def test_only_the_shared_modules_sit_at_the_root():
    assert {path.stem for path in SERVICES.glob("*.py")} == SHARED | {"__init__"}


def test_the_capability_packages_are_the_documented_ones_in_the_documented_order():
    documented = re.search(r"only those above it\):\s*(.+?)\. The", surveyd.services.__doc__, re.S).group(1)
    assert [name.strip() for name in documented.replace("\n", " ").split(",")] == ORDER
    assert sorted(ORDER) == capabilities()


@pytest.mark.parametrize("package", capabilities())
def test_a_package_imports_exactly_the_capabilities_its_docstring_names(package):
    assert used_capabilities(package) == declared_uses(package)


def test_capabilities_only_use_those_above_them_so_no_two_import_each_other():
    for package in ORDER:
        above = set(ORDER[:ORDER.index(package)])
        assert used_capabilities(package) <= above, f"{package} uses {used_capabilities(package) - above}"


def test_the_shared_modules_use_no_capability():
    for name in SHARED:
        modules = imported_modules(SERVICES / f"{name}.py")
        assert not {m for m in modules if m.startswith("surveyd.services.") and m.split(".")[2] not in SHARED}


def test_services_never_import_the_layers_that_call_them():
    for path in SERVICES.rglob("*.py"):
        wrong = {m for m in imported_modules(path) if m.split(".")[1] in CALLERS}
        assert not wrong, f"{path.relative_to(SERVICES)} imports {wrong}"


def test_the_checks_see_a_forbidden_import(tmp_path):
    # The walker must catch an import hidden in a function, or the tests above could pass vacuously.
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from surveyd.services.answers import responding\n    import surveyd.api.events\n")
    assert {"surveyd.services.answers.responding", "surveyd.api.events"} <= imported_modules(sample)
