"""Pipeline stages, leads, opportunities and the stage history of each opportunity.

Tables are named ``crm_sales_<thing>``; every row carries ``BusinessMixin`` (id, timestamps,
authors, company, optimistic-lock version), so company scoping and the audit trail of core
apply to all of them. Money is ``Decimal`` in ``Numeric(18, 2)`` with a currency beside it;
probabilities are percentages in ``Numeric(5, 2)``; instants are timezone-aware UTC.

The state machines (lead: new -> qualified -> converted, or disqualified; opportunity:
open -> won / lost -> reopened) are enforced by ``services``; the check constraints here only
keep values inside their vocabularies, whatever path writes a row.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from addons.contacts import Account, Contact
from core.db import ArchiveMixin, Base, BusinessMixin, Money
from core.models import User

Percent = Numeric(5, 2)

LEAD_STATUSES = ("new", "qualified", "disqualified", "converted")
LEAD_SOURCES = (
    "web", "referral", "campaign", "import", "email", "phone", "event", "partner", "other",
)  # fmt: skip
OPPORTUNITY_STATUSES = ("open", "won", "lost")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class SalesPipelineStage(BusinessMixin, ArchiveMixin, Base):
    """A column of the pipeline. Each company has its own pipeline.

    ``probability`` (0-100) is what an opportunity in this stage is worth unless its owner set
    one. A won stage and a lost stage close the opportunities that reach them; ``folded``
    columns are shown collapsed on the kanban page. Stages in use are archived, not deleted.
    """

    __tablename__ = "crm_sales_stage"
    __table_args__ = (
        UniqueConstraint("company_id", "name"),
        CheckConstraint("probability >= 0 AND probability <= 100", name="probability_range"),
        CheckConstraint("NOT (is_won AND is_lost)", name="won_or_lost"),
    )

    name: Mapped[str] = mapped_column(String(100))
    sequence: Mapped[int] = mapped_column(Integer, default=10)
    probability: Mapped[Decimal] = mapped_column(Percent, default=Decimal("0"))
    is_won: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_lost: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    folded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @property
    def is_closing(self) -> bool:
        return self.is_won or self.is_lost

    def __repr__(self) -> str:
        return f"<SalesPipelineStage {self.id} {self.name!r}>"


class Lead(BusinessMixin, Base):
    """Someone who may buy: captured before anybody knows whether it is a real opportunity.

    ``contact_name``, ``email``, ``phone`` and ``company_name`` are what was captured; once the
    lead is converted (or linked by hand) ``account_id`` and ``contact_id`` point at the
    customer records of the contacts addon.
    """

    __tablename__ = "crm_sales_lead"
    __table_args__ = (
        CheckConstraint(_in("status", LEAD_STATUSES), name="status"),
        CheckConstraint(_in("source", LEAD_SOURCES), name="source"),
    )

    title: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True, index=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    company_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="web")
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    disqualify_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), nullable=True, index=True
    )
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts_account.id"), nullable=True, index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts_contact.id"), nullable=True, index=True
    )
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    converted_at: Mapped[datetime | None] = mapped_column(nullable=True)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    account: Mapped[Account | None] = relationship(foreign_keys=[account_id])
    contact: Mapped[Contact | None] = relationship(foreign_keys=[contact_id])
    opportunity: Mapped[Opportunity | None] = relationship(
        back_populates="source_lead", uselist=False, viewonly=True
    )

    @property
    def is_open(self) -> bool:
        return self.status in ("new", "qualified")

    def __repr__(self) -> str:
        return f"<Lead {self.id} {self.title!r} {self.status}>"


class Opportunity(BusinessMixin, Base):
    """A deal in the pipeline: how much, how likely, when, with whom.

    ``probability`` is the stage's unless ``probability_manual`` (the owner set it); won
    opportunities are worth 100 %, lost ones 0 %. ``stage_entered_at`` is when it reached
    its current stage (the history holds the earlier ones).
    """

    __tablename__ = "crm_sales_opportunity"
    __table_args__ = (
        CheckConstraint(_in("status", OPPORTUNITY_STATUSES), name="status"),
        CheckConstraint("expected_revenue >= 0", name="revenue_not_negative"),
        CheckConstraint("probability >= 0 AND probability <= 100", name="probability_range"),
    )

    name: Mapped[str] = mapped_column(String(200), index=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts_account.id"), nullable=True, index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts_contact.id"), nullable=True, index=True
    )
    stage_id: Mapped[int] = mapped_column(ForeignKey("crm_sales_stage.id"), index=True)
    expected_revenue: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    probability: Mapped[Decimal] = mapped_column(Percent, default=Decimal("0"))
    probability_manual: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    expected_close_date: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), nullable=True, index=True
    )
    next_activity_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    next_activity_note: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(8), default="open", index=True)
    lost_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    source_lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_sales_lead.id"), nullable=True, unique=True
    )
    stage_entered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)

    stage: Mapped[SalesPipelineStage] = relationship()
    account: Mapped[Account | None] = relationship(foreign_keys=[account_id])
    contact: Mapped[Contact | None] = relationship(foreign_keys=[contact_id])
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    source_lead: Mapped[Lead | None] = relationship(back_populates="opportunity")
    history: Mapped[list[StageHistory]] = relationship(
        back_populates="opportunity",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="StageHistory.id",
    )

    @property
    def is_closed(self) -> bool:
        return self.status != "open"

    @property
    def weighted_revenue(self) -> Decimal:
        """Expected revenue times probability, to the cent."""
        value = (self.expected_revenue or Decimal("0")) * (self.probability or 0) / 100
        return value.quantize(Decimal("0.01"))

    def __repr__(self) -> str:
        return f"<Opportunity {self.id} {self.name!r} {self.status}>"


class StageHistory(BusinessMixin, Base):
    """One stay of an opportunity in one stage: entered, left, and how long that was.

    The open stay (``left_at`` empty) is the current stage. Written by the services on every
    move, so "average time in stage" is a plain aggregate. Not audited: it is a log itself.
    """

    __tablename__ = "crm_sales_stage_history"
    __audited__ = False

    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("crm_sales_opportunity.id", ondelete="CASCADE"), index=True
    )
    stage_id: Mapped[int] = mapped_column(ForeignKey("crm_sales_stage.id"), index=True)
    entered_at: Mapped[datetime] = mapped_column()
    left_at: Mapped[datetime | None] = mapped_column(nullable=True)
    duration_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)

    opportunity: Mapped[Opportunity] = relationship(back_populates="history")
    stage: Mapped[SalesPipelineStage] = relationship()

    def __repr__(self) -> str:
        return f"<StageHistory opp={self.opportunity_id} stage={self.stage_id}>"


__all__ = [
    "LEAD_SOURCES",
    "LEAD_STATUSES",
    "OPPORTUNITY_STATUSES",
    "Lead",
    "Opportunity",
    "SalesPipelineStage",
    "StageHistory",
]
