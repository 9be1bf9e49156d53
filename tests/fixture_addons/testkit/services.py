"""Business rules of the fixture addon (no Flask: callable from the CLI, jobs and tests)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core.resources import BusinessError


def polish(session: Session, gadget: Any, *, times: int = 1) -> Any:
    """Polish a gadget: it must have a price (nobody polishes what they cannot sell)."""
    if not gadget.price:
        raise BusinessError("A gadget without a price cannot be polished.")
    note = f"Polished ×{times}"
    gadget.notes = f"{gadget.notes}\n{note}" if gadget.notes else note
    return gadget


def archive(session: Session, gadget: Any) -> None:
    """Hide a gadget from lists without deleting it."""
    gadget.archived = True
