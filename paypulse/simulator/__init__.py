"""Seeded payment traffic with scripted incidents, as JSON Lines, for demos, tests and evaluation.

* :mod:`~paypulse.simulator.scenario`   the TOML scenario (pydantic; a typo is a ConfigError)
* :mod:`~paypulse.simulator.scripted`   its incidents (labelled) and daily habits (not labelled)
* :mod:`~paypulse.simulator.fields`     strict tables and durations like "1h30m"
* :mod:`~paypulse.simulator.traffic`    normal traffic: daily cycle, channels, Zipf merchants
* :mod:`~paypulse.simulator.incidents`  what each scripted incident does to its scope
* :mod:`~paypulse.simulator.badlines`   malformed lines for the dead-letter path
* :mod:`~paypulse.simulator.generator`  :class:`Simulator`: blocks of event time -> lines in stream order
* :mod:`~paypulse.simulator.sink`       :func:`write_lines`: the one loop every sink shares
"""

from paypulse.simulator.badlines import BAD_LINE_KINDS
from paypulse.simulator.generator import BLOCK_MS, Simulator
from paypulse.simulator.scenario import (
    CallbackSpec,
    ChannelSpec,
    ComplaintSpec,
    DailyCycle,
    Incident,
    MerchantSpec,
    Scenario,
    load_scenario,
    merchant_id,
    parse_duration,
    validate_scenario,
)
from paypulse.simulator.sink import line_writer, write_labels, write_lines

__all__ = [
    "BAD_LINE_KINDS",
    "BLOCK_MS",
    "CallbackSpec",
    "ChannelSpec",
    "ComplaintSpec",
    "DailyCycle",
    "Incident",
    "MerchantSpec",
    "Scenario",
    "Simulator",
    "line_writer",
    "load_scenario",
    "merchant_id",
    "parse_duration",
    "validate_scenario",
    "write_labels",
    "write_lines",
]
