"""Call records a platform sends in bulk (CSV): the same rules and idempotency as the API."""

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field

from .api.serializers import CompleteRequestSerializer
from .models import CallSource
from .services import CallInputError, call_complete

COLUMNS = ["call_id", "facility", "inmate", "dialed_number", "started_at", "duration_seconds", "disconnect"]


class ImportFileError(Exception):
    """A file that cannot be read as call records at all (the message says why)."""


@dataclass
class ImportSummary:
    posted: int = 0
    duplicate: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def _reason(errors: dict) -> str:
    return "; ".join(f"{name}: {' '.join(str(m) for m in messages)}" for name, messages in errors.items())


def call_records_import(*, lines: Iterable[str]) -> ImportSummary:
    """Charge every row of a CSV of finished calls, each in its own transaction, through the same
    service as the API. A bad row is rejected with its reason and never stops the rest; a call id
    already recorded (by the API, an earlier import or an earlier row) counts as a duplicate."""
    reader = csv.DictReader(lines)
    missing = [c for c in COLUMNS if c != "disconnect" and c not in (reader.fieldnames or [])]
    if missing:
        raise ImportFileError(f"The header lacks the column(s): {', '.join(missing)}.")
    summary = ImportSummary()
    for row in reader:
        line = reader.line_num
        data = {name: (row.get(name) or "").strip() for name in COLUMNS}
        data["disconnect"] = data["disconnect"] or "normal"
        serializer = CompleteRequestSerializer(data=data)
        if not serializer.is_valid():
            summary.rejected.append((line, _reason(serializer.errors)))
            continue
        valid = serializer.validated_data
        try:
            result = call_complete(
                call_id=valid["call_id"],
                facility_code=valid["facility"],
                inmate_number=valid["inmate"],
                dialed_number=valid["dialed_number"],
                started_at=valid["started_at"],
                duration_seconds=valid["duration_seconds"],
                disconnect=valid["disconnect"],
                source=CallSource.IMPORT,
            )
        except CallInputError as exc:
            summary.rejected.append((line, f"{exc.field}: {exc.message}"))
            continue
        if result.created:
            summary.posted += 1
        else:
            summary.duplicate += 1
    return summary
