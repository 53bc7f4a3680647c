from django.core.management.base import BaseCommand, CommandError

from calls.callpath import importing
from calls.callpath.importing import COLUMNS, ImportFileError, ImportSummary, call_records_import


class Command(BaseCommand):
    help = (
        "Charge call records sent in bulk by a phone platform. CSV with a header: "
        + ",".join(COLUMNS)
        + " (disconnect optional, default normal). Safe to run again: recorded calls count as duplicates."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file of finished calls")

    def _progress(self, summary: ImportSummary) -> None:
        """A line on stderr every batch, once the file is larger than one batch."""
        if summary.rows > importing.BATCH_ROWS:
            self.stderr.write(
                f"{summary.rows:,} rows: posted {summary.posted:,}, duplicate {summary.duplicate:,}, "
                f"rejected {len(summary.rejected):,}"
            )

    def handle(self, *args, **options):
        try:
            with open(options["file"], newline="", encoding="utf-8-sig") as handle:
                summary = call_records_import(lines=handle, progress=self._progress)
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CommandError("The file is not UTF-8 text.") from None
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"posted: {summary.posted}, duplicate: {summary.duplicate}, rejected: {len(summary.rejected)}"
        )
        for line, reason in summary.rejected:
            self.stdout.write(f"  line {line}: {reason}")
