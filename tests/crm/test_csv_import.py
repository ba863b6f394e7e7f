"""CSV import and export: encodings, separators, mapping, rejects, duplicates, atomicity."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from crm.call_records import CallStore
from crm.contacts import ContactService
from crm.csv_export import export_contacts
from crm.csv_import import ContactImporter, ImportFailed, detect_encoding, parse_map
from crm.database import Database
from crm.models import Company, Contact
from crm.schemas import ContactCreate
from crm.search import SearchService
from crm.users import UserService
from tests.crm.kit_builders import SYSTEM, call, store_calls


async def count(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count(Contact.id))) or 0)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


async def test_cp1251_semicolons_mapping_and_rejects(db: Database, tmp_path: Path) -> None:
    await UserService(db).create(
        login="petrova", name="Анна Петрова", role="agent", password="long password"
    )
    csv_text = (
        "Клиент;Моб. телефон;Почта;Организация;Менеджер;Метки;ИНН\r\n"
        "Иван Иванов;8 (916) 123-45-67;ivan@example.ru;ООО «Ромашка»;petrova;VIP, опт;7701\r\n"
        ";+7 916 000-00-01;;;;;\r\n"
        "Пётр Петров;12-34;;;;;\r\n"
        "Сидор Сидоров;+7 916 000-00-02;not-an-email;;;;\r\n"
        "Олег Олегов;+7 916 000-00-03;;;Неизвестный;;\r\n"
        "Мария Ромашкина;+7 (495) 765-43-21;;ооо «ромашка»;Анна Петрова;;\r\n"
    )
    path = write(tmp_path / "клиенты.csv", csv_text, "cp1251")
    report = await ContactImporter(db).run(
        path, mapping=parse_map("Клиент=name,Моб. телефон=phone")
    )
    assert (report.encoding, report.delimiter) == ("cp1251", ";")
    assert (report.rows, report.created, report.companies_created) == (6, 2, 1)
    assert [(r.line, r.reason.split(" ")[0]) for r in report.rejected] == [
        (3, "missing"),
        (4, "bad"),
        (5, "bad"),
        (6, "unknown"),
    ]
    assert report.report_path == tmp_path / "клиенты.rejected.csv"
    rejected = report.report_path.read_text(encoding="utf-8-sig")
    assert "line;reason;Клиент" in rejected and "4;bad phone '12-34';Пётр Петров" in rejected
    found = await SearchService(db).search("ивано")
    contact = found["contacts"][0]
    assert contact["phones"][0]["number"] == "+79161234567"
    assert contact["emails"] == ["ivan@example.ru"] and contact["tags"] == ["VIP", "опт"]
    assert (
        contact["owner"]["name"] == "Анна Петрова" and contact["company"]["name"] == "ООО «Ромашка»"
    )
    assert contact["custom"] == {"ИНН": "7701"}
    async with db.session() as session:
        assert (
            await session.scalar(select(func.count(Company.id))) == 1
        )  # the same company, case-insensitively
    assert (await SearchService(db).search("ромаш"))["companies"][0]["contacts_count"] == 2


async def test_utf8_commas_and_duplicates(db: Database, tmp_path: Path) -> None:
    existing = await ContactService(db).create(
        ContactCreate(name="Старый", phones=["+79160000010"]), SYSTEM
    )
    text = (
        "\ufeffname,phone,email,tags\n"
        "Новый,+79160000020,a@x.ru,t1\n"
        "Дубль файла,8 916 000-00-20,b@x.ru,t2\n"
        "Дубль базы,89160000010,c@x.ru,t3\n"
        '"Кавычки, запятая","+79160000030; +79160000031",,\n'
    )
    path = write(tmp_path / "c.csv", text)
    assert detect_encoding(path.read_bytes()) == "utf-8-sig"
    reported = await ContactImporter(db).run(path, duplicates="report", dry_run=True)
    assert [r.reason for r in reported.rejected] == [
        "duplicate of line 2 (same phone number)",
        f"duplicate of contact #{existing['id']} (same phone number)",
    ]
    assert await count(db) == 1  # dry run
    merged = await ContactImporter(db).run(path)
    assert (merged.created, merged.merged, merged.rejected) == (2, 2, [])
    old = await ContactService(db).get(existing["id"])
    assert old["emails"] == ["c@x.ru"] and old["tags"] == ["t3"] and old["version"] == 2
    quoted = (await SearchService(db).search("кавычки"))["contacts"][0]
    assert [p["number"] for p in quoted["phones"]] == ["+79160000030", "+79160000031"]
    new = (await SearchService(db).search("новый"))["contacts"][0]
    assert new["emails"] == ["a@x.ru", "b@x.ru"] and new["tags"] == ["t1", "t2"]


async def test_broken_files_stop_with_the_line_and_write_nothing(
    db: Database, tmp_path: Path
) -> None:
    good_rows = "".join(f"Контакт {i};+7916{i:07d}\n" for i in range(1, 4000))
    broken = ("ФИО;Телефон\n" + good_rows).encode("utf-8") + b"\xd0\xbf\xff\xfe;+79169999999\n"
    path = tmp_path / "broken.csv"
    path.write_bytes(broken)
    with pytest.raises(ImportFailed, match=r"line 4001: .* not utf-8"):
        await ContactImporter(db).run(path)
    assert await count(db) == 0
    quoting = write(
        tmp_path / "quotes.csv", "ФИО;Телефон\n" + good_rows + 'Плохая "строка";"+7916\n'
    )
    with pytest.raises(ImportFailed, match=r"line 4001: broken CSV"):
        await ContactImporter(db).run(quoting)
    assert await count(db) == 0
    with pytest.raises(ImportFailed, match="name"):
        await ContactImporter(db).run(write(tmp_path / "noname.csv", "foo;bar\n1;2\n"))
    with pytest.raises(ImportFailed, match="empty"):
        await ContactImporter(db).run(write(tmp_path / "empty.csv", ""))
    with pytest.raises(ImportFailed, match="unknown field"):
        parse_map("Телефон=telephone")


async def test_import_links_past_calls_and_export_round_trips(db: Database, tmp_path: Path) -> None:
    await UserService(db).create(login="owner1", name="O", role="agent", password="long password")
    earlier = call("+79160000040", ago=86400)
    await store_calls(db, earlier)
    source = write(
        tmp_path / "in.csv",
        "name;phone;phone_unverified;email;company;owner;tags;custom.Источник\n"
        "Звонил раньше;+79160000040;;;;owner1;;сайт\n"
        'Без номера;;12-ab;x@y.ru;ACME "Ltd";;a; b;\n',
    )
    report = await ContactImporter(db).run(source)
    assert report.rejected == [] and report.created == 2
    row = await CallStore(db).get(earlier.linkedid)
    assert row is not None and row.contact_id is not None
    first = tmp_path / "out1.csv"
    assert await export_contacts(db, first) == 2
    assert "12-ab" in first.read_text(encoding="utf-8-sig")
    assert 'ACME ""Ltd""' in first.read_text(encoding="utf-8-sig")
    copy_db = tmp_path / "copy.db"
    other = Database(f"sqlite+aiosqlite:///{copy_db}")
    await other.upgrade()
    try:
        await UserService(other).create(
            login="owner1", name="O", role="agent", password="long password"
        )
        again = await ContactImporter(other).run(first)
        assert again.rejected == []
        second = tmp_path / "out2.csv"
        await export_contacts(other, second)
    finally:
        await other.dispose()
    assert first.read_bytes() == second.read_bytes()


async def test_stored_values_survive_the_bulk_path_exactly(db: Database, tmp_path: Path) -> None:
    """Quotes, backslashes, control-like text, emoji and big numbers in custom fields and
    e-mails come back from the database as they were in the file."""
    tricky = 'он сказал "да" \\ C:\\path\\n {"x": 1} [1, 2] 😀 \u2028 null true 007'
    quoted = tricky.replace('"', '""')
    csv_text = (
        "name,phone,email,custom.note,custom.inn,Теги\n"
        '"Ёлкин Ёжик","8 916 123-45-67; +7 495 765-43-21","a@b.ru b@c.ru",'
        f'"{quoted}",'
        '12345678901234567890,"x, y"\n'
        "Plain,89161230000,,,,\n"
    )
    path = write(tmp_path / "tricky.csv", csv_text)
    report = await ContactImporter(db).run(path)
    assert (report.created, report.rejected) == (2, [])
    async with db.session() as session:
        contacts = {c.name: c for c in (await session.scalars(select(Contact))).all()}
    first = contacts["Ёлкин Ёжик"]
    assert first.emails == ["a@b.ru", "b@c.ru"]
    assert first.custom == {"note": tricky, "inn": "12345678901234567890"}
    assert first.search_text == "елкин ежик x y a b ru c"
    assert (contacts["Plain"].emails, contacts["Plain"].custom) == ([], {})


async def test_the_search_index_follows_merges_and_its_triggers_come_back(
    db: Database, tmp_path: Path
) -> None:
    """On SQLite the import feeds the FTS tables itself (new rows in bulk, a merged
    contact's old words out and new ones in) and restores the triggers afterwards."""
    first = write(tmp_path / "a.csv", "name;phone;tags\nАнна Сидорова;+79160000050;вчерашний\n")
    assert (await ContactImporter(db).run(first)).created == 1
    second = write(
        tmp_path / "b.csv",
        "name;phone;tags;company\nАнна;89160000050;сегодняшний;Ромашка Плюс\n",
    )
    assert (await ContactImporter(db).run(second)).merged == 1
    found = (await SearchService(db).search("сегодняшний"))["contacts"]
    assert [c["name"] for c in found] == ["Анна Сидорова"]
    assert found[0]["tags"] == ["вчерашний", "сегодняшний"]
    assert found[0]["company"]["name"] == "Ромашка Плюс"
    assert [c["name"] for c in (await SearchService(db).search("плюс"))["companies"]] == [
        "Ромашка Плюс"
    ]
    await ContactService(db).create(ContactCreate(name="После импорта"), SYSTEM)
    assert (await SearchService(db).search("после"))["contacts"][0]["name"] == "После импорта"
    if db.dialect == "sqlite":
        async with db.transaction() as session:
            for table in ("contacts", "companies"):
                # raises when the index and its content table disagree
                await session.execute(
                    text(
                        f"INSERT INTO {table}_fts({table}_fts, rank) VALUES ('integrity-check', 1)"
                    )
                )
            triggers = await session.scalar(
                text(
                    "SELECT count(*) FROM sqlite_master"
                    " WHERE type = 'trigger' AND name LIKE '%_fts_%'"
                )
            )
        assert triggers == 6
