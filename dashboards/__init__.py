"""Dashboards as code: the metric catalogue, Grafana boards and Prometheus rules for PayPulse.

* :mod:`dashboards.metrics`    every metric on ``/metrics``, as data: the one list others check against
* :mod:`dashboards.boards`     "Payments overview", "Merchants", "PayPulse health" as dashboard JSON
* ``dashboards/rules``         recording and alerting rules, with promtool tests in ``rules/tests``
* :mod:`dashboards.provision`  export to files, push to Grafana (the only module using grafana-client)
"""

from __future__ import annotations

from dashboards.boards import all_boards
from dashboards.metrics import METRICS, Metric, by_name, metric_names, series_names

__all__ = ["METRICS", "Metric", "all_boards", "by_name", "metric_names", "series_names"]
