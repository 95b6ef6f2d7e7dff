"""``GET /``: the status page end users read, and ``GET /embed.js``: the banner for merchants' checkouts.

The page is rendered in the reader's language (:func:`statuspage.deps.get_lang`) with the current
state, so it is right without JavaScript; its own script then polls the API so an open page
follows the incident without reloads, and shows every time in the reader's time zone. A
``?lang=`` from the language switch is remembered in a cookie for a year.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from statuspage.deps import BannerDep, IncidentsDep, LangDep, WordingDep, say_language
from statuspage.i18n import COOKIE, DEFAULT_LANGUAGE, LANGUAGE_NAMES, LANGUAGES, Catalogue, match_language
from statuspage.routes.status import read_status

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "page_templates", "router"]

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
#: Incidents shown on the page; older ones stay readable through the API.
PAGE_INCIDENTS = 10
_COOKIE_MAX_AGE = 365 * 86_400


def _utc(epoch: float | None) -> str:
    """The time without JavaScript; the page's script shows it in the reader's zone and language."""
    return "" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(epoch: float | None) -> str:
    return "" if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def page_templates(catalogues: Mapping[str, Catalogue]) -> dict[str, Jinja2Templates]:
    """One template environment per language, its gettext bound to that language's catalogue."""
    templates = {}
    for lang, catalogue in catalogues.items():
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True, extensions=["jinja2.ext.i18n"]
        )
        env.install_gettext_translations(catalogue.translations, newstyle=True)  # type: ignore[attr-defined]
        env.filters["utc"] = _utc
        env.filters["iso"] = _iso
        templates[lang] = Jinja2Templates(env=env)
    return templates


router = APIRouter(tags=["page"])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def status_page(
    request: Request, banner: BannerDep, incidents: IncidentsDep, wording: WordingDep, lang: LangDep
) -> HTMLResponse:
    status = read_status(banner, wording, lang)

    def names(channels: Iterable[str]) -> str:
        return wording.join(lang, wording.channels(lang, channels))

    def pick(texts: Mapping[str, str]) -> tuple[str, str]:
        """A text in the reader's language, else in zh-CN; and the language it is in."""
        shown = lang if texts.get(lang) else DEFAULT_LANGUAGE
        return texts[shown], shown

    context = {
        "lang": lang,
        "switch": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "state": banner.state(),
        "message": status.message,
        "channels": wording.join(lang, status.channel_names),
        "updated_at": banner.updated_at(),
        "history": banner.history(10),
        "incidents": incidents.latest(PAGE_INCIDENTS),
        "where": lambda channel: wording.channel(lang, channel),
        "names": names,
        "state_label": lambda state: wording.state(lang, state),
        "pick": pick,
        "poll_ms": int(request.app.state.poll_seconds * 1000),
    }
    templates: dict[str, Jinja2Templates] = request.app.state.templates
    response = templates[lang].TemplateResponse(
        request, "index.html", context, headers={"Cache-Control": "no-store"}
    )
    say_language(response, lang)
    if match_language(request.query_params.get("lang")) is not None:  # the switch was used: remember it
        response.set_cookie(
            COOKIE,
            lang,
            max_age=_COOKIE_MAX_AGE,
            path=request.scope.get("root_path", "") + "/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
    return response


@router.get("/embed.js", include_in_schema=False)
def embed_script() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "embed.js",
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )
