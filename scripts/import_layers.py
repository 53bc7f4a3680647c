"""A contract type for `lint-imports`: layers of packages in which a module's layer follows from where
it sits and what it is, so a new module is covered without an edit of the contract.

A module with a part of its dotted name that names an interface (`views`, `admin`, `*_views`…, given
as `interfaces`) is in the layer written `interfaces`; any other module is in the layer of the
longest package listed that contains it. A module may import from its own layer or a lower one. A
module that no layer places breaks the contract too: it asks for a decision, not a silent pass."""

from dataclasses import dataclass
from fnmatch import fnmatchcase

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output

INTERFACES = "interfaces"


@dataclass(frozen=True)
class Crossing:
    importer: str
    importer_layer: str
    imported: str
    imported_layer: str
    line: int


class PlacedLayersContract(Contract):
    """`layers`: one line a layer, from the top, each a space-separated list of packages (or the word
    `interfaces`); `interfaces`: the names (shell patterns) of interface modules and packages."""

    type_name = "placed layers"

    layers = fields.ListField(subfield=fields.StringField())
    interfaces = fields.ListField(subfield=fields.StringField())

    def _placing(self) -> tuple[list[str], dict[str, int], int | None]:
        names = [str(line).strip() for line in self.layers]  # type: ignore[attr-defined]
        packages: dict[str, int] = {}
        interface_rank = None
        for rank, line in enumerate(reversed(names)):
            for package in line.split():
                if package == INTERFACES:
                    interface_rank = rank
                else:
                    packages[package] = rank
        return list(reversed(names)), packages, interface_rank

    def layer_of(self, module: str) -> int | None:
        """The rank (0 = the bottom) of the layer a module is in, or None where no layer places it."""
        _, packages, interface_rank = self._placing()
        patterns = [str(p) for p in self.interfaces]  # type: ignore[attr-defined]
        parts = module.split(".")
        if interface_rank is not None and any(fnmatchcase(part, p) for part in parts[1:] for p in patterns):
            return interface_rank
        for end in range(len(parts), 0, -1):
            rank = packages.get(".".join(parts[:end]))
            if rank is not None:
                return rank
        return None

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        names, _, _ = self._placing()
        unplaced = sorted(m for m in graph.modules if self.layer_of(m) is None)
        crossings = []
        for importer in sorted(graph.modules):
            rank = self.layer_of(importer)
            if rank is None:
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                imported_rank = self.layer_of(imported)
                if imported_rank is not None and imported_rank > rank:
                    lines = [d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)]
                    for line in lines or [0]:
                        crossings.append(Crossing(importer, names[rank], imported, names[imported_rank], line))
        return ContractCheck(
            kept=not unplaced and not crossings, metadata={"unplaced": unplaced, "crossings": crossings}
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        for module in check.metadata["unplaced"]:
            output.print_error(f"{module} is in no layer: put it in a listed package, or list its package.")
            output.new_line()
        for c in check.metadata["crossings"]:
            output.print_error(f"{c.importer} ({c.importer_layer}) imports {c.imported} ({c.imported_layer})")
            output.print(f"  line {c.line}")
            output.new_line()
