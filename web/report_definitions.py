"""What every figure of the report page counts, in the reader's language.

One entry per column the page shows (its label, as the table heads it, and its
definition); the page lists them under "What the figures count" and
`tests/supervisor/test_day_reports.py` checks that every figure column of the page has
one. The JSON reports keep their own, keyed by field name
(:data:`supervisor.figures.FIGURE_DEFINITIONS`).
"""

from __future__ import annotations

from collections.abc import Callable

from web.i18n import N_

DEFINITIONS: tuple[tuple[str, str], ...] = (
    (
        N_("Offered"),
        N_(
            "Customer calls, each counted once: per queue the calls that entered it; per "
            "day, hour and line also the inbound calls routed straight to a person."
        ),
    ),
    (N_("Answered"), N_("Calls an agent answered.")),
    (
        N_("Abandoned"),
        N_("Queue calls the caller left before an answer (hung up, timed out, empty queue)."),
    ),
    (
        N_("Not answered"),
        N_(
            "Other calls nobody answered: queue exits without an abandon, routed calls not "
            "picked up."
        ),
    ),
    (
        N_("Service level"),
        N_(
            "% of calls answered within the queue's threshold, over answered + abandoned "
            "after the threshold + not answered; callers who hung up within the threshold "
            "are left out."
        ),
    ),
    (N_("ASA"), N_("Average speed of answer: the average wait of answered calls.")),
    (N_("AHT"), N_("Average handle time: the average talk time of answered calls.")),
    (N_("Abandon rate"), N_("% of offered calls abandoned, short abandons included.")),
    (N_("Longest wait"), N_("The longest wait of a call in the group.")),
    (N_("Talk time"), N_("The sum of the talk time of the agent's answered calls.")),
    (N_("Outbound calls"), N_("Calls the agent placed.")),
    (
        N_("Logged in"),
        N_("Time the agent was in a queue: available, ringing, on a call, in wrap-up or paused."),
    ),
    (N_("Pause"), N_("Time paused in the queues, whatever the reason.")),
    (N_("Wrap-up"), N_("Time in after-call work after a call, before taking the next one.")),
    (N_("Pause reasons"), N_("Time paused per reason the agent gave.")),
    (N_("queued"), N_("Per line: inbound calls that went through a queue.")),
    (N_("Routed"), N_("Per line: inbound calls routed straight to a person, without a queue.")),
    (N_("Wait"), N_("How long the caller waited before hanging up or leaving the queue.")),
    (
        N_("Callback task"),
        N_("The task to call a missed caller back, and whether it is open or done."),
    ),
    (
        N_("Reached later"),
        N_(
            "The customer was reached afterwards: an agent called back, or they called "
            "again and were answered."
        ),
    ),
    (N_("Panel sign-ins"), N_("How many times the agent signed in to Trubka in the period.")),
    (
        N_("First sign-in"),
        N_("The first sign-in to Trubka in the period (the last sign-out next to it)."),
    ),
    (
        N_("Last sign-out"),
        N_("The last sign-out from Trubka in the period; an expired session is not a sign-out."),
    ),
    (N_("Queue logins"), N_("How many times the agent's phone joined the queues.")),
    (N_("Queue logouts"), N_("How many times the agent's phone left the queues.")),
    (
        N_("Occupancy"),
        N_(
            "% of the time in a queue and not paused that the agent spent ringing, on "
            "calls or in wrap-up."
        ),
    ),
)


def definitions(gettext: Callable[[str], str]) -> list[tuple[str, str]]:
    """(label, definition) of every figure, translated."""
    return [(gettext(label), gettext(text)) for label, text in DEFINITIONS]
