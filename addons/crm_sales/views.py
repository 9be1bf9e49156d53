"""Web pages of the sales addon beside the generated ones: the pipeline (kanban) and the report.

* ``GET /sales/pipeline`` - one column per stage with its count, total and weighted revenue.
  Every card carries a small form (stage selector, lost reason, CSRF token) that moves it
  without JavaScript; ``static/kanban.js`` adds drag and drop on top and posts the same form.
* ``POST /sales/pipeline/<id>/move`` - the move; answers a redirect, or JSON with the
  re-rendered board when the script asks for it (``Accept: application/json``).
* ``GET /sales/reports/pipeline`` - the forecast with a bar chart drawn here, on the server,
  as inline SVG (no external script); ``/sales/reports/pipeline.svg`` is the chart alone.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from markupsafe import Markup, escape

from addons.crm_sales import api as sales_api
from addons.crm_sales import services
from addons.crm_sales.models import Opportunity, SalesPipelineStage
from core.access import current_company_id, has_permission, permission_required
from core.db import utcnow
from core.identity import user_choices
from core.problems import Problem
from core.resources.pages import display
from core.resources.rest import translated_errors

STATIC = Path(__file__).resolve().parent / "static"
CLOSED_DAYS = 90


def _session() -> Any:
    return current_app.extensions["mosaic"].db.session


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


# --------------------------------------------------------------------------- pipeline


def board_context(owner_id: int | None) -> dict[str, Any]:
    company_id = sales_api.require_company()
    sales_api.seed_pipeline(company_id)
    since = utcnow() - timedelta(days=CLOSED_DAYS)
    columns = services.kanban(_session(), company_id, owner_id=owner_id, closed_since=since)
    return {
        "columns": columns,
        "stages": [c.stage for c in columns],
        "owner_id": owner_id,
        "closed_days": CLOSED_DAYS,
        "can_move": has_permission("crm_sales.opportunity.move"),
        "today": utcnow().date(),
    }


@permission_required("crm_sales.opportunity.read")
def pipeline() -> Any:
    owner_id = _int_arg("owner_id")
    context = board_context(owner_id)
    return render_template(
        "crm_sales/pipeline.html",
        owners=user_choices(_session()),
        breadcrumbs=[("Home", "/"), ("Pipeline", None)],
        **context,
    )


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@permission_required("crm_sales.opportunity.move")
def move(record_id: int) -> Any:
    """Move one card (the no-JS form and the drag and drop both post here)."""
    session = _session()
    raw_stage = request.form.get("stage_id", "").strip()
    owner_id = _int_arg("owner_id")
    back = url_for(".pipeline", owner_id=owner_id) if owner_id else url_for(".pipeline")
    wanted = request.form.get("next", "")
    if wanted.startswith("/") and not wanted.startswith("//") and "\\" not in wanted:
        back = wanted  # a page of this site only (the opportunity's own page, say)
    try:
        with translated_errors(sales_api.opportunities):
            opp = session.get(Opportunity, record_id)
            if opp is None:
                raise Problem(404, f"Opportunity {record_id} does not exist.")
            if not raw_stage.isdigit() or len(raw_stage) > 9:
                raise Problem(422, "Choose a stage.", errors={"stage_id": ["Choose a stage."]})
            sales_api.move(session, opp, int(raw_stage), request.form.get("lost_reason") or None)
            session.commit()
            message = f"'{opp.name}' is now in {opp.stage.name}."
    except Problem as problem:
        if _wants_json():
            raise
        flash(problem.detail if not problem.errors else _first_error(problem), "error")
        return redirect(back)
    if _wants_json():
        html = render_template("crm_sales/_board.html", **board_context(owner_id))
        return jsonify({"message": message, "board": html, "id": opp.id, "stage_id": opp.stage_id,
                        "status": opp.status})  # fmt: skip
    flash(message, "success")
    return redirect(back)


def _first_error(problem: Problem) -> str:
    for messages in (problem.errors or {}).values():
        if isinstance(messages, list) and messages:
            return str(messages[0])
    return problem.detail


# --------------------------------------------------------------------------- report


def _nice_ceiling(value: Decimal) -> Decimal:
    """A round axis maximum above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return Decimal("1")
    exponent = value.adjusted()
    for step in (Decimal("1"), Decimal("2"), Decimal("2.5"), Decimal("5"), Decimal("10")):
        candidate = step.scaleb(exponent)
        if candidate >= value:
            return candidate
    return Decimal("10").scaleb(exponent)  # pragma: no cover


def _short(amount: Decimal) -> str:
    """``125000`` -> ``125k``; ``2500000`` -> ``2.5M`` (axis labels)."""
    for size, suffix in ((Decimal("1e9"), "G"), (Decimal("1e6"), "M"), (Decimal("1e3"), "k")):
        if abs(amount) >= size:
            text = f"{(amount / size):.1f}".rstrip("0").rstrip(".")
            return text + suffix
    return f"{amount.quantize(Decimal('1'), rounding=ROUND_CEILING)}"


def bar_chart_svg(
    title: str,
    labels: list[str],
    series: list[tuple[str, str, list[Decimal]]],
    *,
    width: int = 760,
    height: int = 320,
) -> Markup:
    """A grouped bar chart as an SVG document fragment; every text is escaped.

    ``series`` is ``[(name, css colour, values per label)]``. Pure presentation, no script;
    the numbers are also in the tables beside it, and the chart has a text alternative.
    """
    left, right, top, bottom = 64, 16, 36, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for _, _, values in series for v in values] or [Decimal("0")])
    top_value = _nice_ceiling(peak)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="chart-title chart-desc">',
        f'<title id="chart-title">{escape(title)}</title>',
        '<desc id="chart-desc">'
        + escape(
            "; ".join(
                f"{label}: " + ", ".join(f"{name} {values[i]}" for name, _, values in series)
                for i, label in enumerate(labels)
            )
            or "No data."
        )
        + "</desc>",
        f'<text x="{left}" y="20" class="chart-title">{escape(title)}</text>',
    ]
    for tick in range(5):
        value = top_value * tick / 4
        y = top + plot_h - plot_h * tick / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{escape(_short(value))}</text>'
        )
    if labels:
        group = plot_w / len(labels)
        bar = max(2.0, min(28.0, group * 0.8 / max(len(series), 1)))
        for i, label in enumerate(labels):
            x0 = left + group * i + (group - bar * len(series)) / 2
            for j, (name, colour, values) in enumerate(series):
                value = values[i]
                h = float(plot_h * value / top_value) if top_value else 0.0
                x, y = x0 + bar * j, top + plot_h - h
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{escape(colour)}">'
                    f"<title>{escape(label)}: {escape(name)} {escape(str(value))}</title></rect>"
                )
            parts.append(
                f'<text x="{left + group * i + group / 2:.1f}" y="{top + plot_h + 16}" '
                f'text-anchor="middle" class="axis">{escape(label)}</text>'
            )
    else:
        parts.append(
            f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" class="axis">No open opportunities.</text>'
        )
    for j, (name, colour, _) in enumerate(series):
        x = left + j * 160
        parts.append(
            f'<rect x="{x}" y="{height - 18}" width="12" height="12" fill="{escape(colour)}"/>'
        )
        parts.append(f'<text x="{x + 18}" y="{height - 8}" class="axis">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def forecast_chart(report: dict[str, Any]) -> Markup:
    """Expected and weighted revenue per close month, in the company's currency."""
    currency = report["currency"]
    rows = [r for r in report["forecast_by_month"] if r["currency"] == currency]
    labels = [r["month"] or "no date" for r in rows]
    return bar_chart_svg(
        f"Open pipeline by expected close month ({currency})",
        labels,
        [
            ("Expected revenue", "#9db7e8", [Decimal(r["expected"]) for r in rows]),
            ("Weighted revenue", "#2f5fc4", [Decimal(r["weighted"]) for r in rows]),
        ],
    )


def _report() -> dict[str, Any]:
    company_id = sales_api.require_company()
    sales_api.seed_pipeline(company_id)
    return services.pipeline_report(_session(), company_id, owner_id=_int_arg("owner_id"))


@permission_required("crm_sales.report.read")
def report_page() -> Any:
    report = _report()
    return render_template(
        "crm_sales/report.html",
        report=report,
        chart=forecast_chart(report),
        owners=user_choices(_session()),
        owner_id=_int_arg("owner_id"),
        breadcrumbs=[("Home", "/"), ("Sales report", None)],
    )


@permission_required("crm_sales.report.read")
def report_svg() -> Response:
    svg = forecast_chart(_report())
    return Response(str(svg), mimetype="image/svg+xml")


# --------------------------------------------------------------------------- static


@permission_required("crm_sales.opportunity.read")
def static_file(filename: str) -> Any:
    """The addon's own script and style (the web blueprint has no static folder of its own)."""
    return send_from_directory(STATIC, filename, max_age=3600)


def _stages_of_company() -> list[SalesPipelineStage]:
    company_id = current_company_id()
    return services.stages(_session(), company_id) if company_id is not None else []


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/pipeline", "pipeline", pipeline, methods=["GET"])
    bp.add_url_rule(
        "/pipeline/<int(max=2147483647):record_id>/move", "pipeline_move", move, methods=["POST"]
    )
    bp.add_url_rule("/reports/pipeline", "report", report_page, methods=["GET"])
    bp.add_url_rule("/reports/pipeline.svg", "report_svg", report_svg, methods=["GET"])
    bp.add_url_rule("/static/<path:filename>", "static_file", static_file, methods=["GET"])

    @bp.context_processor
    def sales_helpers() -> dict[str, Any]:
        # ``shown``: dates and times in the user's timezone, as on the generated pages
        return {"sales_stages": _stages_of_company, "sales_can": has_permission, "shown": display}
