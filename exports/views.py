"""Pages: request statements, follow their progress (polled by the page), download them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from exports import jobs, services
from exports.api import READERS, XLSX, file_content
from exports.models import FINISHED, KIND_LABELS, STATUS_LABELS, Export
from exports.schemas import ExportCreateSchema
from grants import transaction
from grants.cities.models import City, Title
from grants.extensions import db
from grants.http.auth import mark_writes
from grants.http.web import as_int, done, label_filter, me, page, run_form
from grants.scope import list_query

bp = Blueprint("statements_pages", __name__)


def export_kind_label(kind: str) -> str:
    """The English name of a kind of statement (``exports.models.KIND_LABELS``)."""
    return KIND_LABELS[kind]


bp.add_app_template_filter(label_filter(export_kind_label), "export_kind_label")


def export_status(export: Export) -> dict[str, Any]:
    """What the statements page shows of an export (also its polled JSON)."""
    return {
        "id": export.id,
        "status": export.status,
        "status_name": STATUS_LABELS[export.status],
        "progress": export.progress,
        "error": export.error,
        "file_name": export.file_name,
        "size": export.size,
        "download_url": url_for("statements_pages.download", export_id=export.id)
        if export.status == FINISHED
        else None,
    }


def _params(kind: str) -> dict[str, Any]:
    """The form's choice of what the statement covers, as the API's body."""
    raw: dict[str, Any] = {"kind": kind}
    if kind == "grant_statement":
        raw["grant_id"] = as_int(request.form.get("grant_id"))
    elif kind == "city_statement":
        city, _, year = (request.form.get("city_title") or "").partition(":")
        raw["city_id"], raw["title_year"] = as_int(city), as_int(year)
    else:
        raw["title_year"] = as_int(request.form.get("title_year"))
    return {k: v for k, v in raw.items() if v is not None}


@bp.route("/statements", methods=["GET", "POST"])
@page(roles=READERS)
def statements() -> Any:
    user = me()
    errors: dict[str, list[str]] = {}
    status = 200
    kind = ""
    if request.method == "POST":
        kind = request.form.get("kind", "")
        raw = _params(kind)

        def run() -> Export:
            data = ExportCreateSchema().load(raw)
            return services.request_export(data.pop("kind"), data, actor=user)

        export, errors, status = run_form(run)
        if status == 200:  # the row is the truth: the job is queued once it is committed
            export_id = export.id
            transaction.after_commit(lambda: jobs.dispatch(export_id))
            done(f"{KIND_LABELS[export.kind]} {export.id} requested.")
            return redirect(url_for("statements_pages.statements", _anchor=f"export-{export.id}"))
    exports = list(db.session.scalars(select(Export).order_by(Export.id.desc()).limit(50)))
    titles = list(
        db.session.execute(
            select(City.id, City.name, Title.year)
            .join(Title, Title.city_id == City.id)
            .order_by(City.name, Title.year)
        )
    )
    years = sorted({t.year for t in titles}, reverse=True)
    return (
        render_template(
            "exports/statements.html",
            exports=[(e, export_status(e)) for e in exports],
            grants=list(db.session.scalars(list_query(user, {}))),
            titles=titles,
            years=years,
            errors=errors,
            failed_kind=kind,
        ),
        status,
    )


@bp.route("/statements/<int:export_id>/status")
@page(roles=READERS)
def status(export_id: int) -> Any:
    """The page polls this (with the session cookie) to show progress without a reload."""
    export = services.get_export(export_id)
    response = jsonify(export_status(export))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/statements/<int:export_id>/file")
@mark_writes  # records the download: takes SQLite's write lock up front
@page(roles=READERS)
def download(export_id: int) -> Any:
    """The workbook as a download; the download is written to the audit trail."""
    export = services.get_export(export_id)
    content = file_content(export, actor=me())  # audited (committed by the page), unless a HEAD
    response = Response(content, mimetype=XLSX)
    response.headers["Content-Disposition"] = f'attachment; filename="{export.file_name}"'
    response.headers["X-Content-SHA256"] = export.sha256 or ""
    return response
