"""``GET /api/i18n``: the message catalogue for the page's and the embed's scripts.

The scripts call ``gettext(msgid)`` as the templates do, with the same catalogue: one source of
words for the server-rendered page, its updates and the merchants' banner. ``lang`` is negotiated
as for the page, so the embed can pass its host page's ``<html lang>`` as it is (``zh-Hans``, ``en-GB``).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from statuspage.deps import LangDep, WordingDep

__all__ = ["CatalogueOut", "router"]

router = APIRouter(prefix="/api/i18n", tags=["i18n"])


class CatalogueOut(BaseModel):
    lang: str = Field(description="the language chosen: zh-CN or en")
    messages: dict[str, str] = Field(description="msgid (English) -> text in lang")


@router.get("", response_model=CatalogueOut)
def get_catalogue(wording: WordingDep, lang: LangDep, response: Response) -> CatalogueOut:
    response.headers["Cache-Control"] = "public, max-age=300"
    return CatalogueOut(lang=lang, messages=dict(wording.catalogues[lang].messages))
