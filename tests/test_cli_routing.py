"""`trubka routing check`."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from trubka.cli import main


def test_check_prints_the_effective_rules(tmp_path: Path) -> None:
    rules = tmp_path / "routing.toml"
    rules.write_text(
        'queue = "support"\n[vip]\ngold = 5\n[queues.sales]\nwhen_busy = "wait"\n'
        'supervisor = "sales.head"\ncallback_due_minutes = 15\n'
        '[dids."84951110000"]\nqueue = "sales"\n'
        '[dids."84951110000".hours]\ntimezone = "Europe/Moscow"\n'
        'mon = "09:00-18:00"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["routing", "check", str(rules)])
    assert result.exit_code == 0, result.output
    assert f"{rules}: OK" in result.output
    assert (
        "default: queue support; prefer last-agent, owner; look back 90 days; ring 20 s"
        in result.output
    )
    assert (
        "queue sales: queue sales; prefer last-agent, owner; look back 90 days; ring 20 s; "
        "wait up to 30 s when busy; VIP gold=5; missed calls: callback task due in 15 min "
        "(routed manager, else owner, else supervisor sales.head); open always" in result.output
    )
    assert (
        "DID +74951110000: queue sales; prefer last-agent, owner; look back 90 days; ring 20 s; "
        "wait up to 30 s when busy; VIP gold=5; missed calls: callback task due in 15 min "
        "(routed manager, else owner, else supervisor sales.head); hours in Europe/Moscow, "
        "after hours: queue sales" in result.output
    )


def test_check_names_the_bad_key(tmp_path: Path) -> None:
    rules = tmp_path / "routing.toml"
    rules.write_text("[queues.sales]\nwait_secs = 10\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["routing", "check", str(rules)])
    assert result.exit_code == 1
    assert "queues.sales.wait_secs: unknown key" in result.output


def test_check_without_a_file_shows_the_defaults() -> None:
    result = CliRunner().invoke(main, ["routing", "check"], env={"TRUBKA_ROUTING_RULES": ""})
    assert result.exit_code == 0
    assert "built-in defaults: OK" in result.output
