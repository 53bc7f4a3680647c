"""The import contracts (.importlinter, checked by `lint-imports` in `make test`) place every module by
where it sits and what it is: none is left out, and a new module needs no edit of the contract."""

import configparser
from pathlib import Path

import grimp

from scripts.import_layers import PlacedLayersContract

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("accounts", "billing", "calls", "config")


def _contract() -> PlacedLayersContract:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter", encoding="utf-8")
    options = config["importlinter:contract:layers"]
    return PlacedLayersContract(
        name="layers",
        session_options={},
        contract_options={key: options[key].strip().splitlines() for key in ("layers", "interfaces")},
    )


def _modules() -> list[str]:
    """Every module of the packages, by dotted name (a package by its __init__.py)."""
    modules = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def test_every_module_is_in_a_layer():
    contract = _contract()
    assert [m for m in _modules() if contract.layer_of(m) is None] == []


def test_a_module_is_placed_by_its_package_and_its_name():
    contract = _contract()
    ledger, accounts, calls, workflows, interfaces = (
        contract.layer_of(m)
        for m in ("billing.ledger.posting", "accounts.services", "calls.blocks", "billing.payments.services", "config")
    )
    assert ledger < accounts < calls < workflows < interfaces
    # A module that does not exist yet is placed where it would be put.
    assert contract.layer_of("billing.statements.new_module") == workflows
    assert contract.layer_of("calls.new_rule") == calls
    assert contract.layer_of("billing.ledger.new_part") == ledger
    # An interface by its name, whatever package holds it.
    for module in (
        "accounts.views",
        "accounts.text_views",
        "billing.payments.admin",
        "calls.api.views",
        "accounts.phone.menu",
    ):
        assert contract.layer_of(module) == interfaces, module
    # Outside the listed packages nothing is placed: the contract then breaks, asking for a decision.
    assert contract.layer_of("newapp.models") is None


def test_an_import_up_the_layers_breaks_the_contract():
    graph = grimp.ImportGraph()
    for module in ("accounts.services", "billing.payments.models", "billing.ledger.posting", "calls.views"):
        graph.add_module(module)
    graph.add_import(importer="calls.views", imported="billing.payments.models", line_number=1, line_contents="")
    assert _contract().check(graph, verbose=False).kept
    graph.add_import(importer="accounts.services", imported="billing.payments.models", line_number=3, line_contents="")
    check = _contract().check(graph, verbose=False)
    assert not check.kept
    assert [(c.importer, c.imported, c.line) for c in check.metadata["crossings"]] == [
        ("accounts.services", "billing.payments.models", 3)
    ]
