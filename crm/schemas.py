"""Input shapes for the CRM (used by the REST API and the importer), and the output views
of a user and the session (the API's typed responses; the rest are in `web.api.views`).

Every model forbids unknown fields and bounds every string and list, so a bad request
fails with a 422 naming the field before any service code runs. Updates carry the
`version` the client read (optimistic locking); only the fields present are changed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from crm.models import Role, StageKind, TaskKind, TaskStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$"
    ),
]
CustomKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
CustomValue = Annotated[str, StringConstraints(max_length=2000)] | int | float | bool | None
Id = Annotated[int, Field(ge=1, le=2**53)]
Version = Annotated[int, Field(ge=1, le=2**31)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Currency = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{3}$")
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=10_000)


class PhoneIn(Strict):
    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    label: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_string(cls, value: Any) -> Any:
        return {"number": value} if isinstance(value, str) else value


Phones = Annotated[list[PhoneIn], Field(max_length=20)]
Tags = Annotated[list[Tag], Field(max_length=50)]
Custom = Annotated[dict[CustomKey, CustomValue], Field(max_length=50)]


class ContactCreate(Strict):
    name: Name
    phones: Phones = []
    emails: Annotated[list[Email], Field(max_length=10)] = []
    company_id: Id | None = None
    owner_id: Id | None = None
    tags: Tags = []
    custom: Custom = {}


class ContactUpdate(Strict):
    version: Version
    name: Name | None = None
    phones: Phones | None = None
    emails: Annotated[list[Email], Field(max_length=10)] | None = None
    company_id: Id | None = None
    owner_id: Id | None = None
    tags: Tags | None = None
    custom: Custom | None = None


class CompanyCreate(Strict):
    name: Name
    phones: Phones = []
    owner_id: Id | None = None
    tags: Tags = []
    custom: Custom = {}


class CompanyUpdate(Strict):
    version: Version
    name: Name | None = None
    phones: Phones | None = None
    owner_id: Id | None = None
    tags: Tags | None = None
    custom: Custom | None = None


NoteBody = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]


class NoteCreate(Strict):
    body: NoteBody
    contact_id: Id | None = None
    company_id: Id | None = None

    @model_validator(mode="after")
    def _one_subject(self) -> NoteCreate:
        if (self.contact_id is None) == (self.company_id is None):
            raise ValueError("give exactly one of contact_id and company_id")
        return self


class NoteUpdate(Strict):
    version: Version
    body: NoteBody


class TaskCreate(Strict):
    title: Name
    kind: TaskKind = TaskKind.CALL_BACK
    description: Annotated[str, StringConstraints(max_length=10_000)] = ""
    due_at: AwareDatetime | None = None
    assignee_id: Id | None = None
    contact_id: Id | None = None
    company_id: Id | None = None
    deal_id: Id | None = None
    call_linkedid: Annotated[str, StringConstraints(max_length=64)] | None = None


class TaskUpdate(Strict):
    version: Version
    title: Name | None = None
    kind: TaskKind | None = None
    description: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    due_at: AwareDatetime | None = None
    assignee_id: Id | None = None
    status: TaskStatus | None = None


def _distinct_stages(stages: list[StageIn]) -> list[StageIn]:
    names = [s.name.casefold() for s in stages]
    if len(set(names)) != len(names):
        raise ValueError("stage names must differ")
    return stages


class StageIn(Strict):
    id: Id | None = None
    name: ShortText
    kind: StageKind = StageKind.OPEN
    # % of its deals expected to be won (the sales forecast); None: the default
    probability: Annotated[int, Field(ge=0, le=100)] | None = None


class PipelineCreate(Strict):
    name: ShortText
    stages: Annotated[list[StageIn], Field(min_length=1, max_length=30)]

    @field_validator("stages")
    @classmethod
    def _distinct(cls, stages: list[StageIn]) -> list[StageIn]:
        return _distinct_stages(stages)


class PipelineUpdate(Strict):
    version: Version
    name: ShortText | None = None
    stages: Annotated[list[StageIn], Field(min_length=1, max_length=30)] | None = None

    @field_validator("stages")
    @classmethod
    def _distinct(cls, stages: list[StageIn] | None) -> list[StageIn] | None:
        return None if stages is None else _distinct_stages(stages)


class DealCreate(Strict):
    title: Name
    pipeline_id: Id | None = None
    stage_id: Id | None = None
    amount: Money | None = None
    currency: Currency = "RUB"
    contact_id: Id | None = None
    company_id: Id | None = None
    owner_id: Id | None = None
    expected_close_on: date | None = None  # the sales forecast's month


class DealUpdate(Strict):
    version: Version
    title: Name | None = None
    stage_id: Id | None = None
    amount: Money | None = None
    currency: Currency | None = None
    contact_id: Id | None = None
    company_id: Id | None = None
    owner_id: Id | None = None
    expected_close_on: date | None = None


Login = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Interface = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=128)]
Queue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Language = Annotated[str, StringConstraints(pattern=r"^(ru|en)$")]


class UserCreate(Strict):
    login: Login
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    role: Role
    password: Password
    interfaces: Annotated[list[Interface], Field(max_length=10)] = []
    queues: Annotated[list[Queue], Field(max_length=50)] = []
    language: Language = "ru"


class UserUpdate(Strict):
    version: Version
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    role: Role | None = None
    password: Password | None = None
    # Changing one's own password needs the current one (not for an admin's reset).
    current_password: Annotated[str, StringConstraints(max_length=256)] | None = None
    interfaces: Annotated[list[Interface], Field(max_length=10)] | None = None
    queues: Annotated[list[Queue], Field(max_length=50)] | None = None
    language: Language | None = None
    active: bool | None = None


class LoginIn(Strict):
    login: Login
    password: Password


def changes(model: BaseModel) -> dict[str, Any]:
    """The fields the client sent (an explicit null clears an optional field)."""
    return {name: getattr(model, name) for name in model.model_fields_set if name != "version"}


# Output views (the API's `response_model`s of a user and the session).


class UserView(BaseModel):
    """A user as they, a manager or an admin see them (`UserInfo.to_json`).

    It and `UserSummary` forbid other keys: that is how a `UserView | UserSummary` body
    tells the two apart, so a key added to `UserInfo.to_json` is added here too."""

    model_config = ConfigDict(extra="forbid")

    id: int
    login: str
    name: str
    role: str
    language: str
    active: bool
    interfaces: list[str]
    queues: list[str]
    version: int


class UserRow(UserView):
    """A user as admins and supervisors read them in `GET /api/users`: with when they
    last signed in (ISO-8601; null: never). Required, so a body without it is a
    `UserView`."""

    last_sign_in_at: str | None


class UserSummary(BaseModel):
    """Another user as an agent sees them."""

    model_config = ConfigDict(extra="forbid")

    id: int
    name: str
    role: str
    active: bool


class SessionView(BaseModel):
    """The signed-in user."""

    user: UserView
