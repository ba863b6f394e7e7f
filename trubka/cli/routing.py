"""`trubka routing check [FILE]`: validate routing rules and show what each line gets."""

from __future__ import annotations

from pathlib import Path

import click

from routing.errors import RulesError
from routing.rules import Policy, load_rules
from trubka.cli.common import settings_or_exit


@click.group()
def routing() -> None:
    """Routing rules (TRUBKA_ROUTING_RULES)."""


def _describe(policy: Policy) -> str:
    parts = [
        f"queue {policy.queue}",
        "prefer " + (", ".join(policy.prefer) or "nobody (queue only)"),
        f"look back {policy.lookback_days:g} days",
        f"ring {policy.ring_seconds} s",
        f"wait up to {policy.wait_seconds} s when busy"
        if policy.when_busy == "wait"
        else "busy: queue at once",
    ]
    if policy.vip:
        parts.append(
            "VIP " + ", ".join(f"{tag}={prio}" for tag, prio in sorted(policy.vip.items()))
        )
    if policy.callback_tasks:
        who = f", else supervisor {policy.supervisor}" if policy.supervisor else ""
        parts.append(
            f"missed calls: callback task due in {policy.callback_due_minutes} min "
            f"(routed manager, else owner{who})"
        )
    else:
        parts.append("missed calls: no callback tasks")
    if policy.hours is None:
        parts.append("open always")
    else:
        plan = policy.after_hours
        target = {
            "queue": f"queue {plan.queue or policy.queue}",
            "dial": f"dial {plan.dial}",
            "goto": f"goto {plan.goto}",
        }
        parts.append(f"hours in {policy.hours.timezone}, after hours: {target[plan.action]}")
    return "; ".join(parts)


@routing.command("check")
@click.argument("file", required=False, type=click.Path(path_type=Path))
def check(file: Path | None) -> None:
    """Validate FILE (default: TRUBKA_ROUTING_RULES) and print the effective rules."""
    settings = settings_or_exit()
    path = file if file is not None else settings.routing_rules
    try:
        rules = load_rules(path, region=settings.default_region)
    except RulesError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{path or 'built-in defaults'}: OK")
    click.echo(f"  default: {_describe(rules.for_did(None))}")
    for name, policy in sorted(rules.queues.items()):
        click.echo(f"  queue {name}: {_describe(policy)}")
    for did, policy in sorted(rules.dids.items()):
        click.echo(f"  DID {did}: {_describe(policy)}")
