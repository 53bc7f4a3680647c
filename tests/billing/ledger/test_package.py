"""`from billing.ledger import kernel as ledger` offers the whole kernel API: every public function and class of its
modules, each the very object its module defines."""

import importlib

import pytest

from billing.ledger import kernel as ledger

MODULES = ["ledger_accounts", "balances", "posting", "holds", "reads", "checks"]


@pytest.mark.parametrize("name", MODULES)
def test_every_public_name_of_the_kernel_modules_is_offered_by_the_package(name):
    module = importlib.import_module(f"billing.ledger.{name}")
    public = [
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and callable(value)
        and getattr(value, "__module__", None) == module.__name__
        and attr not in {"lock_ledger_rows", "register", "registered", "Check"}
    ]
    assert public
    for attr in public:
        assert getattr(ledger, attr) is getattr(module, attr), attr


def test_the_package_declares_what_it_offers():
    offered = [name for name, value in vars(ledger).items() if not name.startswith("_") and callable(value)]
    assert sorted(ledger.__all__) == sorted(offered)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError):
        ledger.no_such_function  # noqa: B018
