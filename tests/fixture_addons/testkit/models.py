from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import ArchiveMixin, Base, BusinessMixin, Money


class Gadget(BusinessMixin, ArchiveMixin, Base):
    __tablename__ = "testkit_gadget"

    name: Mapped[str] = mapped_column(String(120), index=True)
    price: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    parts: Mapped[list[Part]] = relationship(back_populates="gadget", cascade="all, delete-orphan")


class Part(BusinessMixin, Base):
    __tablename__ = "testkit_part"

    gadget_id: Mapped[int] = mapped_column(
        ForeignKey("testkit_gadget.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(120))
    gadget: Mapped[Gadget] = relationship(back_populates="parts")
