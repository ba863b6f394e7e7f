"""The API's response bodies as typed views, for `response_model=` and `/api/openapi.json`.

The services build plain dicts; these models only describe them. FastAPI validates a
route's dict through its model and serializes it back: every model keeps the dict's key
order (fields are declared in the order the services write them), keeps nulls (no
`exclude_unset`/`exclude_none`) and keeps keys it does not name (`extra="allow"`), so the
JSON is the one the services built. A key that is sometimes absent is not declared (it
would come back as `null`); it is named in the model's docstring instead.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from crm.schemas import UserRow, UserSummary, UserView
from web.api.mail_views import LetterView


class View(BaseModel):
    """A response body: open-ended (undeclared keys pass through), never rewritten."""

    model_config = ConfigDict(extra="allow")


# A JSON number kept as the service wrote it (a `float` field would turn 5 into 5.0).
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]


class Ref(View):
    """`{"id", "name"}` of a user, company or contact (`name` is null if it is gone)."""

    id: int
    name: str | None


class Phone(View):
    raw: str
    number: str
    valid: bool
    label: str | None


# --- contacts and companies -------------------------------------------------------------


class ContactRecord(View):
    """A contact as cards and search show it."""

    id: int
    name: str
    phones: list[Phone]
    emails: list[str]
    company_id: int | None
    company: Ref | None
    owner_id: int | None
    owner: Ref | None
    tags: list[str]
    custom: dict[str, Any]
    created_at: str
    updated_at: str
    version: int


class ContactView(ContactRecord):
    """A contact of `/api/contacts`: `editable` says whether the asking user may change it."""

    editable: bool


class ContactPage(View):
    items: list[ContactView]
    next: int | None = Field(description="the `before_id` of the next page")


class CompanyRecord(View):
    """A company as cards and search show it."""

    id: int
    name: str
    phones: list[Phone]
    owner_id: int | None
    owner: Ref | None
    tags: list[str]
    custom: dict[str, Any]
    contacts_count: int
    created_at: str
    updated_at: str
    version: int


class CompanyView(CompanyRecord):
    editable: bool


class CompanyPage(View):
    items: list[CompanyView]
    next: int | None


class SearchResult(View):
    query: str
    contacts: list[ContactView]
    companies: list[CompanyView]


# --- the call record ---------------------------------------------------------------------


class RecordingView(View):
    """A call's recording (see `recordings.views.recording_json`): `url` is set once it
    can be played, `error` says why it cannot."""

    status: str
    format: str | None
    duration_seconds: Number | None
    size_bytes: int | None
    channels: int | None
    sha256: str | None
    url: str | None
    error: str | None
    legal_hold: bool


class CallRecordView(View):
    """A stored call: the call record of the architecture ("Call record"), the fields of
    `record_json` in its order, with the stored row's `id` first and the CRM's
    `company_id`, answering `agent` (a user) and `recording` (see `recordings.views`) last.
    Times are ISO 8601 in UTC."""

    id: int
    linkedid: str
    direction: str
    caller_number: str | None
    caller_name: str | None
    called_number: str | None
    queue: str | None
    agent_interface: str | None
    agent_name: str | None
    started_at: str
    answered_at: str | None
    ended_at: str
    wait_seconds: Number
    talk_seconds: Number
    disposition: str
    routed_by: str | None
    routing_reason: str | None
    routing_reason_key: str | None
    routing_reason_values: dict[str, Any] | None
    recording_file: str | None
    queue_hold_seconds: int | None
    queue_talk_seconds: int | None
    agents: list[str]
    agent_aliases: list[str]
    contact_id: int | None
    ended_during_outage: bool
    source: str
    company_id: int | None
    agent: Ref | None
    recording: RecordingView | None


class CallStepView(View):
    at: str
    kind: str
    detail: str


class CallDetail(CallRecordView):
    """One call with its steps."""

    timeline: list[CallStepView]


class CallPage(View):
    items: list[CallRecordView]
    next: str | None = Field(description="pass as `before` for the next page")


# --- notes, tasks, deals, pipelines ------------------------------------------------------


class NoteView(View):
    id: int
    body: str
    contact_id: int | None
    company_id: int | None
    author: Ref | None
    created_at: str
    updated_at: str
    version: int


class NotePage(View):
    items: list[NoteView]


class TaskView(View):
    id: int
    kind: str
    title: str
    description: str
    status: str
    due_at: str | None
    assignee_id: int | None
    assignee: Ref | None
    created_by_id: int | None
    contact_id: int | None
    company_id: int | None
    deal_id: int | None
    call_linkedid: str | None
    created_at: str
    updated_at: str
    completed_at: str | None
    completed_by_id: int | None
    version: int


class TaskPage(View):
    items: list[TaskView]


class StageRef(View):
    id: int
    name: str
    kind: str


class DealView(View):
    id: int
    title: str
    pipeline_id: int
    stage_id: int
    stage: StageRef | None
    amount: str | None
    currency: str
    contact_id: int | None
    company_id: int | None
    owner_id: int | None
    owner: Ref | None
    created_at: str
    updated_at: str
    closed_at: str | None
    expected_close_on: str | None = None  # YYYY-MM-DD: the sales forecast's month
    version: int


class DealPage(View):
    items: list[DealView]


class DealEventView(View):
    """One change of a deal; `detail` depends on `kind`."""

    id: int
    deal_id: int
    deal_title: str | None
    kind: str
    at: str
    user: Ref | None
    from_stage_id: int | None
    to_stage_id: int | None
    detail: dict[str, Any]


class DealHistory(View):
    items: list[DealEventView]


class StageView(View):
    id: int
    name: str
    kind: str
    position: int
    probability: int | None = None  # % won, set by an admin; None: the default


class PipelineView(View):
    id: int
    name: str
    position: int
    stages: list[StageView]
    version: int


class PipelinePage(View):
    items: list[PipelineView]


# --- timelines and cards -----------------------------------------------------------------


class CallItem(View):
    kind: Literal["call"]
    id: int
    at: str
    call: CallRecordView


class NoteItem(View):
    kind: Literal["note"]
    id: int
    at: str
    note: NoteView


class TaskItem(View):
    kind: Literal["task"]
    id: int
    at: str
    task: TaskView


class DealItem(View):
    kind: Literal["deal"]
    id: int
    at: str
    deal_event: DealEventView


class LetterItem(View):
    kind: Literal["letter"]
    id: int
    at: str
    letter: LetterView


TimelineItem = Annotated[
    CallItem | NoteItem | TaskItem | DealItem | LetterItem, Field(discriminator="kind")
]


class TimelinePage(View):
    """A contact's or company's history, newest first."""

    items: list[TimelineItem]
    next: str | None = Field(description="pass as `before` for the next page")


class Card(View):
    """The card of a contact or a number: who it is, their calls, open tasks, deals and
    notes. With `timeline` > 0 it also holds `timeline`, a `TimelinePage`."""

    number: str | None
    contact: ContactRecord | None
    company: CompanyRecord | None
    owner: Ref | None
    last_calls: list[CallRecordView]
    open_tasks: list[TaskView]
    deals: list[DealView]
    notes: list[NoteView]


# --- users and the session ---------------------------------------------------------------


class UserPage(View):
    items: list[UserRow | UserView | UserSummary]


# --- errors --------------------------------------------------------------------------------


class ErrorView(View):
    """Every error body (see `web.errors`): a stable `code`, a human `message` and, when one
    input is at fault, its `field`. A 409 `conflict` adds `current_version`; a 422
    `validation_error` adds `errors`, one `{field, message, type}` per problem."""

    code: str
    message: str
    field: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorView, "description": description}
    for status, description in (
        (404, "Not found"),
        (409, "Conflict: the version given is not the current one"),
        (422, "Validation error"),
    )
}
