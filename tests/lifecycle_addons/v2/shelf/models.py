from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin


class Item(IdMixin, Base):
    __tablename__ = "shelf_item"

    name: Mapped[str] = mapped_column(String(80))
    code: Mapped[str] = mapped_column(String(80), server_default="")
