from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin


class Thing(IdMixin, Base):
    __tablename__ = "wobbly_thing"

    name: Mapped[str] = mapped_column(String(80))
