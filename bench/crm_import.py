"""Import throughput and peak memory for `trubka import contacts`.

Writes a CSV of N rows (Russian column names, mixed phone formats, companies, tags, a
few bad rows), imports it into a fresh database and prints rows/s and the peak
resident memory of the process. Default 50,000 rows; `--full` for 500,000 (the
issue's target: ≥ 20,000 rows/s, ≤ 500 MB).

    python bench/crm_import.py [--rows N | --full] [--database-url URL] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crm.csv_import import ContactImporter
from crm.database import Database, upgrade
from crm.names import TAGS, company, email_for, person
from crm.seed import mobile


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    formats = ("8 ({a}) {b}-{c}-{d}", "+7 {a} {b}{c}{d}", "8{a}{b}{c}{d}", "+7 ({a}) {b}-{c}-{d}")
    companies = [company(rng, i) for i in range(1, max(rows // 50, 2))]
    with path.open("w", encoding="cp1251", errors="replace", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["ФИО", "Телефон", "E-mail", "Компания", "Теги", "ИНН"])
        for i in range(rows):
            name = person(rng)
            digits = mobile(i)[2:]
            phone = rng.choice(formats).format(
                a=digits[:3], b=digits[3:6], c=digits[6:8], d=digits[8:]
            )
            if i % 1000 == 999:
                phone = "12-34"  # a bad number: rejected with its line
            writer.writerow(
                [
                    name if i % 1500 != 1499 else "",  # a missing name: rejected
                    phone,
                    email_for(name, rng, i) if rng.random() < 0.4 else "",
                    rng.choice(companies) if rng.random() < 0.3 else "",
                    ", ".join(rng.sample(TAGS, 2)) if rng.random() < 0.2 else "",
                    str(7700000000 + i) if rng.random() < 0.5 else "",
                ]
            )


async def run(url: str, path: Path, size: int) -> None:
    db = Database(url)
    started = time.perf_counter()
    report = await ContactImporter(db).run(path)
    elapsed = time.perf_counter() - started
    await db.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"file: {report.rows} rows, {size / 1e6:.1f} MB, {report.encoding}, '{report.delimiter}'")
    print(
        f"imported: {report.created} created, {report.merged} merged, {len(report.rejected)} "
        "rejected, "
        f"{report.companies_created} companies"
    )
    print(
        f"time: {elapsed:.1f} s  throughput: {report.rows / elapsed:,.0f} rows/s  (target ≥ 20,000)"
    )
    print(f"peak memory (RSS of this process): {peak_mb:,.0f} MB  (target ≤ 500)")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  cpus: {os.cpu_count()}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--full", action="store_true", help="500,000 rows")
    parser.add_argument(
        "--database-url", default=None, help="default: a fresh SQLite file in a temporary folder"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep the CSV and database in this folder"
    )
    args = parser.parse_args()
    rows = 500_000 if args.full else args.rows
    folder = args.keep or Path(tempfile.mkdtemp(prefix="trubka-import-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        path = folder / "contacts.csv"
        write_csv(path, rows)
        url = args.database_url or f"sqlite+aiosqlite:///{folder / 'import.db'}"
        upgrade(url)
        asyncio.run(run(url, path, path.stat().st_size))
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
