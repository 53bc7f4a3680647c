"""The import contracts (.importlinter, checked by `lint-imports`) leave no module out: every module of
the four packages sits in one layer, and the money kernel is forbidden every other billing module."""

import ast
import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("accounts", "billing", "calls", "config")


def _contracts() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter", encoding="utf-8")
    return config


def _modules() -> dict[str, Path]:
    """Every module of the packages, by dotted name (a package by its __init__.py)."""
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _layers() -> list[set[str]]:
    """The layers' modules, top layer first, optional ones without their parentheses."""
    lines = _contracts()["importlinter:contract:layers"]["layers"].strip().splitlines()
    return [{name.strip().strip("()") for name in line.replace("|", ":").split(":") if name.strip()} for line in lines]


def _within(module: str, names: set[str]) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in names)


def test_every_module_is_in_a_layer():
    declared = set().union(*_layers())
    modules = _modules()
    # Packages that only hold layers (accounts, billing, calls.api...) are in none: they must stay empty.
    containers = {m for m in modules if not _within(m, declared) and any(d.startswith(f"{m}.") for d in declared)}
    assert sorted(m for m in modules if not _within(m, declared) and m not in containers) == []
    for container in containers:
        tree = ast.parse(modules[container].read_text(encoding="utf-8"))
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)], container


def test_the_kernel_is_forbidden_every_other_billing_module():
    kernel = _layers()[-1]
    forbidden = set(_contracts()["importlinter:contract:kernel"]["forbidden_modules"].split())
    other = [m for m in _modules() if m.startswith("billing.") and not _within(m, kernel)]
    assert [m for m in other if not _within(m, forbidden)] == []
