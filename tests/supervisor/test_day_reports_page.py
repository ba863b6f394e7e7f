"""The report page: date presets, the agent sessions report and a definition for every
figure it shows, in Russian and English."""

from __future__ import annotations

import html
import re

import pytest

from supervisor.presets import all_presets, local_today
from tests.supervisor.kit_dataset import MSK
from tests.supervisor.test_pages import Site, client_for
from tests.supervisor.test_pages import site as site  # the fixture
from web.i18n import translations

LABEL_COLUMNS = (
    "Queue", "Agent", "Day", "Hour", "Called number", "Started", "Caller", "Disposition",
    "When", "Who", "Action", "Outcome", "Details",
)  # fmt: skip


def texts(pattern: str, page: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", t)).strip() for t in re.findall(pattern, page)]


@pytest.mark.parametrize(("login", "lang"), [("boss", "ru"), ("root", "en")])
async def test_presets_sessions_and_a_definition_for_every_figure(
    site: Site, login: str, lang: str
) -> None:
    server, _services = site
    gettext = translations(lang).gettext
    async with client_for(server, login) as client:
        page = (await client.get("/reports")).text  # today, by default
    presets = all_presets(local_today(MSK))
    for name, period in presets.items():
        link = re.search(rf'<a class="button[^"]*" data-preset="{name}" href="([^"]+)"', page)
        assert link, name
        assert f"start={period.start}&amp;end={period.end}" in link.group(1)
    assert re.search(r'aria-current="true">' + gettext("Today") + "<", page)
    assert gettext("This week") in page and gettext("Last month") in page

    # the sessions report: the supervisor signed in today
    sessions = page[page.index('id="sessions-table"') :]
    sessions = sessions[: sessions.index("</table>")]
    row = re.search(
        r"<tr data-agent=\"\"><th scope=\"row\">" + login.title() + r".*?</tr>", sessions, re.S
    )
    assert row, sessions
    assert '<td class="num">1</td>' in row.group(0)  # one panel sign-in

    # every figure column has a definition, in the page's language
    definitions = page[page.index('id="figure-definitions"') :]
    terms = set(texts(r"<dt>(.*?)</dt>", definitions))
    columns = set(texts(r'<th scope="col"[^>]*>(.*?)</th>', page))
    labels = {gettext(label) for label in LABEL_COLUMNS}
    figures = columns - labels
    assert gettext("Occupancy") in figures and gettext("Offered") in figures
    assert figures <= terms, figures - terms
    if lang == "ru":
        assert "Доля брошенных" in terms
        assert "Customer calls" not in definitions
        assert "Занятость" in terms


async def test_a_preset_link_shows_that_period(site: Site) -> None:
    server, _services = site
    async with client_for(server, "root") as client:
        page = (await client.get("/reports?start=2026-11-02&end=2026-11-08")).text
    # a period typed by hand that is no preset of today: none is marked current
    assert page.count('data-preset="') == 6
    assert page.count('aria-current="true"') == 0
    assert 'value="2026-11-02"' in page and 'value="2026-11-08"' in page


async def test_the_sessions_report_api(site: Site) -> None:
    server, _services = site
    async with client_for(server, "root") as client:
        today = (await client.get("/api/reports/sessions?preset=today")).json()
        typed = await client.get("/api/reports/sessions?start=2026-11-02")
        bad = await client.get("/api/reports/sessions?preset=fortnight")
        spec = (await client.get("/api/openapi.json")).json()
    assert today["start"] == today["end"] == local_today(MSK).isoformat()
    [root] = [row for row in today["agents"] if row["agent_name"] == "Root"]
    assert root["panel_sign_ins"] == 1 and root["agent_interface"] is None
    assert "occupancy" in today["definitions"]
    assert typed.status_code == 200 and typed.json()["start"] == "2026-11-02"
    assert all(row["panel_sign_ins"] == 0 for row in typed.json()["agents"])
    assert bad.status_code == 422 and bad.json()["field"] == "preset"
    schema = spec["paths"]["/api/reports/sessions"]["get"]["responses"]["200"]["content"]
    assert schema["application/json"]["schema"]["$ref"].endswith("/SessionsReport")
    async with client_for(server, "anna") as agent:
        assert (await agent.get("/api/reports/sessions?preset=today")).status_code == 403
