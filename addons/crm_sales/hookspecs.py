"""Hooks that ``crm_sales`` publishes for the addons that depend on it.

Implement them in your addon's ``hooks.py`` with ``@hookimpl`` (from ``core.plugins``); your
manifest must list ``crm_sales`` in ``depends``. Every hook is called by
``addons.crm_sales.services`` inside the transaction of the change it announces, after the
change was flushed: raising aborts the whole operation (nothing is committed), and rows you
add or change commit together with it. Flush if you need ids; never commit. Hooks are called
with keyword arguments; none is ``firstresult`` and return values are ignored unless a hook
says otherwise.
"""

from __future__ import annotations

from typing import Any

from core.plugins import hookspec


@hookspec
def crm_sales_lead_converted(session: Any, lead: Any, opportunity: Any) -> None:
    """A lead was converted into an opportunity.

    :param session: the SQLAlchemy session of the conversion.
    :param lead: the ``Lead``, now ``status == "converted"`` and linked to its account and
        contact (either may be ``None`` when the lead named no company or no person).
    :param opportunity: the new ``Opportunity``, in the first stage of the pipeline.
    """


@hookspec
def crm_sales_opportunity_won(session: Any, opportunity: Any) -> None:
    """An opportunity was won (``status == "won"``, ``closed_at`` set, in the won stage).

    The place for a dependent to start what follows a sale, e.g. an ordering addon creating
    a draft sales order from ``opportunity.account``, ``expected_revenue`` and ``currency``.
    Called again if the opportunity is reopened and won another time.
    """


@hookspec
def crm_sales_opportunity_lost(session: Any, opportunity: Any) -> None:
    """An opportunity was lost; ``opportunity.lost_reason`` says why."""


@hookspec
def crm_sales_opportunity_reopened(session: Any, opportunity: Any, previous_status: str) -> None:
    """A won or lost opportunity was reopened (``previous_status`` is ``"won"`` or ``"lost"``).

    A dependent that acted on "won" should undo or flag what it started.
    """


@hookspec
def crm_sales_opportunity_stage_changed(
    session: Any, opportunity: Any, from_stage: Any, to_stage: Any
) -> None:
    """An opportunity moved from one stage to another (including into the won or lost stage,
    and back out of it on reopen). Both stages are ``SalesPipelineStage`` objects."""
