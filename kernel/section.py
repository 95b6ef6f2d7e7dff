"""What every settings table shares: frozen models that refuse unknown keys, and common types.

Split from :mod:`kernel.settings` so the alerting tables (:mod:`kernel.alerting_settings`) and the
rest build on the same pieces without importing each other.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

__all__ = ["DAY", "HOUR", "MINUTE", "ZERO", "Section", "Text", "WebUrl", "not_blank"]


class Section(BaseModel):
    """A settings table: frozen, and a key it does not know is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text


#: An http(s) URL as written (no normalising: a gateway's base URL is used as given).
WebUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+\S*$")]

#: A string that must say something: an empty host or banner message is a mistake, not a choice.
Text = Annotated[str, AfterValidator(not_blank)]

ZERO: Final = timedelta(0)
MINUTE: Final = timedelta(minutes=1)
HOUR: Final = timedelta(hours=1)
DAY: Final = timedelta(days=1)
