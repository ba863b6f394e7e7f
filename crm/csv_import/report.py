"""What an import reports: the counts, the rejected rows, and the error that stops it."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from crm.csv_cells import escape_cell
from crm.errors import CrmError


class ImportFailed(CrmError):
    """The file cannot be read as CSV; nothing was written."""

    code = "import_failed"


@dataclass
class Rejected:
    line: int
    reason: str
    cells: list[str]


@dataclass
class ImportReport:
    path: Path
    encoding: str
    delimiter: str
    rows: int = 0
    created: int = 0
    merged: int = 0
    companies_created: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # header -> field
    report_path: Path | None = None
    dry_run: bool = False
    seconds: float = 0.0


def write_rejected(report: ImportReport) -> Path:
    """`FILE.rejected.csv` next to the file: line, reason and the row's cells."""
    target = report.path.with_name(report.path.stem + ".rejected.csv")
    with target.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=report.delimiter)
        writer.writerow(["line", "reason", *report.columns.keys()])
        for item in report.rejected:
            writer.writerow([escape_cell(c) for c in (str(item.line), item.reason, *item.cells)])
    return target
