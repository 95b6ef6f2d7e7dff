"""Get the boards and rules out of the repository: export them to files, or push boards to Grafana.

Export writes what an ops team drops into Grafana's file provisioning and Prometheus'
``rule_files``; push uses grafana-client's :class:`GrafanaApi` against a running Grafana. Both
start from :func:`dashboards.boards.all_boards`, so the files and the pushed boards are the same.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import niquests
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaException

from dashboards.boards import all_boards
from kernel.errors import PayPulseError

__all__ = ["RULES_DIR", "RULES_FILE", "connect", "export", "push", "rule_files"]

RULES_DIR: Final = Path(__file__).parent / "rules"
RULES_FILE: Final = RULES_DIR / "paypulse.rules.yml"
PUSH_MESSAGE: Final = "Provisioned by paypulse dashboards push"


def rule_files() -> list[Path]:
    """The Prometheus rule files PayPulse ships (their promtool tests live in ``rules/tests``)."""
    return sorted(RULES_DIR.glob("*.rules.yml"))


def export(out: Path, boards: Iterable[dict[str, Any]] | None = None) -> list[Path]:
    """Write ``out/boards/<uid>.json`` for each board and copy the rules to ``out/rules/``.

    Returns the written paths. The JSON is the bare dashboard model, which Grafana's file
    provisioning and its "Import dashboard" page both accept.
    """
    if out.exists() and not out.is_dir():
        raise PayPulseError(f"cannot export to {out}: it exists and is not a directory")
    written: list[Path] = []
    (out / "boards").mkdir(parents=True, exist_ok=True)
    (out / "rules").mkdir(parents=True, exist_ok=True)
    for board in all_boards() if boards is None else boards:
        path = out / "boards" / f"{board['uid']}.json"
        path.write_text(json.dumps(board, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    for source in rule_files():
        written.append(Path(shutil.copyfile(source, out / "rules" / source.name)))
    return written


def connect(url: str, token: str, timeout: float = 10.0) -> GrafanaApi:
    """A Grafana API client for ``url`` (``http://host:3000``) authenticating with a service-account token."""
    if not url.startswith(("http://", "https://")):
        raise PayPulseError(f"Grafana URL must start with http:// or https://, got {url!r}")
    if not token:
        raise PayPulseError("Grafana token is empty")
    return GrafanaApi.from_url(url, credential=token, timeout=timeout)


def push(
    api: GrafanaApi,
    boards: Iterable[dict[str, Any]] | None = None,
    *,
    folder_uid: str | None = None,
) -> list[dict[str, Any]]:
    """Create or overwrite each board in Grafana; returns Grafana's answer per board (uid, url, version).

    Boards are overwritten by uid, so pushing twice gives the same dashboards with a new
    version. A refused board raises :class:`PayPulseError` naming it and Grafana's reason.
    """
    results = []
    for board in all_boards() if boards is None else boards:
        payload: dict[str, Any] = {
            "dashboard": {**board, "id": None},
            "overwrite": True,
            "message": PUSH_MESSAGE,
        }
        if folder_uid:
            payload["folderUid"] = folder_uid
        try:
            results.append(api.dashboard.update_dashboard(payload))
        except GrafanaException as err:
            raise PayPulseError(f"Grafana refused dashboard {board['uid']!r}: {err}") from err
        except niquests.RequestException as err:
            raise PayPulseError(f"cannot reach Grafana to push {board['uid']!r}: {err}") from err
    return results
