"""The Grafana dashboard in docs/ only queries metrics the server exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from langchain_automix.observability.metrics import AutoMixMetrics

DASHBOARD = Path(__file__).resolve().parents[3] / "docs" / "grafana" / "automix-dashboard.json"
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def exported_names() -> set[str]:
    metrics = AutoMixMetrics(registry=CollectorRegistry())
    names = set()
    for family in metrics.registry.collect():  # type: ignore[union-attr]
        names.add(family.name)
        names.update(s.name for s in family.samples)
    # families are named without _total; histograms sample as _bucket/_count/_sum
    for name in list(names):
        for suffix in SUFFIXES:
            names.add(name + suffix)
    return names


def test_every_panel_queries_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exported = exported_names()
    used = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            for name in re.findall(r"\bautomix_[a-z_]+", target["expr"]):
                assert name in exported, f"{panel['title']}: {name} is not exported"
                used.add(name)
    # the headline numbers of docs/observability.md are all on the dashboard
    for name in ("automix_escalated_total", "automix_cost_baseline_units_total",
                 "automix_drift_statistic", "automix_refusals_total"):  # fmt: skip
        assert name in used


def test_panels_do_not_overlap() -> None:
    cells = set()
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        g = panel["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, panel["title"]
                cells.add((x, y))
