"""All CRM services over one database, built once by the composition root.

`Services.crm` holds one of these; the web routers, the FastAGI handler (routing facts),
the screen pop (cards) and the command line reach the CRM through it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from crm.cards import CardService
from crm.companies import CompanyService
from crm.contacts import ContactService
from crm.database import Database
from crm.deals import DealService, PipelineService
from crm.events import CallsStored
from crm.fastpath import FastReader
from crm.hooks.tokens import TokenService
from crm.hooks.webhooks import WebhookService
from crm.linking import link_records
from crm.mail.crypto import PasswordBox
from crm.mail.letters import LetterService
from crm.mail.mailboxes import MailboxService
from crm.mail.named_templates import MailTemplateService
from crm.notes import NoteService
from crm.routing_facts import RoutingFactsSource
from crm.rules.service import RuleService
from crm.search import SearchService
from crm.sessions import DEFAULT_TTL, LoginThrottle, SessionStore
from crm.tasks import TaskService
from crm.timeline import TimelineService
from crm.users import UserDirectory, UserService


@dataclass(eq=False)
class CrmServices:
    db: Database
    region: str
    secret: bytes
    directory: UserDirectory
    users: UserService
    sessions: SessionStore
    throttle: LoginThrottle
    contacts: ContactService
    companies: CompanyService
    notes: NoteService
    tasks: TaskService
    pipelines: PipelineService
    deals: DealService
    timeline: TimelineService
    search: SearchService
    cards: CardService
    routing_facts: RoutingFactsSource
    cookie_secure: bool = False
    session_ttl: timedelta = field(default=DEFAULT_TTL)
    webhooks: WebhookService = field(init=False)  # outgoing webhooks (crm.hooks)
    tokens: TokenService = field(init=False)  # API tokens for other systems
    secret_configured: bool = True  # False: `secret` is this process's own (crm.mail.crypto)
    mailboxes: MailboxService = field(init=False)  # e-mail (crm.mail)
    letters: LetterService = field(init=False)
    mail_templates: MailTemplateService = field(init=False)  # named letter templates
    rules: RuleService = field(init=False)  # triggers "when … if … then …" (crm.rules)

    def __post_init__(self) -> None:
        self.webhooks = WebhookService(self.db)
        self.tokens = TokenService(self.db)
        passwords = PasswordBox(self.secret, persistent=self.secret_configured)
        self.mailboxes = MailboxService(self.db, passwords)
        self.letters = LetterService(self.db, passwords)
        self.mail_templates = MailTemplateService(self.db)
        self.rules = RuleService(self.db, self.directory)
        self.rules.runtime.mailer = self.letters.send_for_rule  # the `send_email` action

    @classmethod
    def create(
        cls,
        db: Database,
        *,
        region: str = "RU",
        secret_key: str = "",
        cookie_secure: bool = False,
        session_ttl: timedelta = DEFAULT_TTL,
        routing_cache_ttl: float = 0.0,
    ) -> CrmServices:
        directory = UserDirectory(db)
        reader = FastReader(db)
        return cls(
            db=db,
            region=region,
            secret=secret_key.encode() if secret_key else secrets.token_bytes(32),
            directory=directory,
            users=UserService(db, directory),
            sessions=SessionStore(db, ttl=session_ttl),
            throttle=LoginThrottle(),
            contacts=ContactService(db, region=region),
            companies=CompanyService(db, region=region),
            notes=NoteService(db),
            tasks=TaskService(db),
            pipelines=PipelineService(db),
            deals=DealService(db),
            timeline=TimelineService(db, directory),
            search=SearchService(db, region=region, reader=reader),
            cards=CardService(db, directory),
            routing_facts=RoutingFactsSource(
                db, directory, cache_ttl=routing_cache_ttl, reader=reader
            ),
            cookie_secure=cookie_secure,
            session_ttl=session_ttl,
            secret_configured=bool(secret_key),
        )

    def close(self) -> None:
        """Release the fast reader's connection (the engine is disposed by its owner)."""
        self.search.reader.close()
        self.routing_facts.reader.close()
        self.cards.sync.close()

    async def link_calls(self, event: CallsStored) -> None:
        """`CallsStored` consumer: link the stored calls to contacts by number."""
        await link_records(self.db, event.records, event.customers)
        if self.routing_facts.cache_ttl > 0:
            for record in event.records:
                for number in (record.caller_number, record.called_number):
                    if number:
                        self.routing_facts.invalidate(number)
