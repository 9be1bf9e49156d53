"""Reference data: the default pipeline (New, Qualified, Proposal, Negotiation, Won, Lost).

Loaded on install and again on every upgrade, for every company. Each stage created here is
remembered in ``core_data_record`` under a stable key, so a reload is idempotent and never
fights the user: a stage that exists (even renamed or re-weighted by a sales manager) is left
as it is, and a stage the user deleted is not brought back. Only stages never created before
are added, which is also how a later version of this list would add a new default stage.

A company created after the install gets the same pipeline the first time sales needs a stage
there (``services.open_stages`` calls ``ensure_default_pipeline``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from addons.crm_sales.models import SalesPipelineStage
from core.models import Company, DataRecord

ADDON = "crm_sales"


@dataclass(frozen=True)
class StageSpec:
    key: str
    name: str
    sequence: int
    probability: Decimal
    is_won: bool = False
    is_lost: bool = False
    folded: bool = False


DEFAULT_PIPELINE: tuple[StageSpec, ...] = (
    StageSpec("new", "New", 10, Decimal("10")),
    StageSpec("qualified", "Qualified", 20, Decimal("25")),
    StageSpec("proposal", "Proposal", 30, Decimal("50")),
    StageSpec("negotiation", "Negotiation", 40, Decimal("75")),
    StageSpec("won", "Won", 90, Decimal("100"), is_won=True),
    StageSpec("lost", "Lost", 100, Decimal("0"), is_lost=True, folded=True),
)


def record_key(spec: StageSpec, company_id: int) -> str:
    return f"stage.{spec.key}.company.{company_id}"


def ensure_default_pipeline(session: Session, company_id: int) -> list[SalesPipelineStage]:
    """Create the default stages of ``company_id`` that were never created; return the new ones.

    A stage of the same name created by hand is adopted (recorded) rather than duplicated.
    """
    created: list[SalesPipelineStage] = []
    records = {
        r.key: r
        for r in session.scalars(
            select(DataRecord).where(
                DataRecord.addon == ADDON, DataRecord.table_name == SalesPipelineStage.__tablename__
            )
        )
    }
    for spec in DEFAULT_PIPELINE:
        key = record_key(spec, company_id)
        if key in records:
            continue  # loaded before: kept as the user left it, or deleted on purpose
        stage = session.scalar(
            select(SalesPipelineStage).where(
                SalesPipelineStage.company_id == company_id, SalesPipelineStage.name == spec.name
            )
        )
        if stage is None:
            stage = SalesPipelineStage(
                company_id=company_id,
                name=spec.name,
                sequence=spec.sequence,
                probability=spec.probability,
                is_won=spec.is_won,
                is_lost=spec.is_lost,
                folded=spec.folded,
            )
            session.add(stage)
            session.flush()
            created.append(stage)
        session.add(
            DataRecord(
                addon=ADDON,
                key=key,
                table_name=SalesPipelineStage.__tablename__,
                record_id=stage.id,
                note=f"default pipeline stage {spec.name!r}",
            )
        )
    session.flush()
    return created


def load(session: Session) -> None:
    """``mosaic_load_data``: the default pipeline for every company (idempotent)."""
    for company_id in session.scalars(select(Company.id).order_by(Company.id)):
        ensure_default_pipeline(session, company_id)
