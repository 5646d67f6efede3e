"""``dryrun/report.html``: the page a reviewer opens in the MLflow UI, read as a browser reads it.

Each report comes from the real stages: an inference pipeline whose answer depends on
the request (an explore finding), one whose output the scoring server cannot write, one
that passes, and a training run whose logged model misses its own package.
"""

from __future__ import annotations

import decimal
import html
import json
import urllib.parse
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline, node

from kedro_mlflow_dryrun.config import DryRunConfig
from kedro_mlflow_dryrun.engine import after_logging, run_stages
from kedro_mlflow_dryrun.report import DryRunReport
from kedro_mlflow_dryrun.reporting.html import render
from kedro_mlflow_dryrun.stages.explore.findings import replay

from engine_contexts import dry_run, engine_context, output_context
from support import PACKAGE

ROWS = pd.DataFrame(
    {
        "area": [52.0, 71.5, 90.0, 120.0, 64.0, 88.0],
        "city": ["Lyon", "Nantes", "Lyon", "Paris", "Nice", "Lyon"],
    }
)


def centred(rows: pd.DataFrame) -> pd.DataFrame:
    """A training/serving skew no single batch shows: the answer depends on the request."""
    return pd.DataFrame({"score": rows["area"] - rows["area"].mean()})


def steady(rows: pd.DataFrame) -> pd.DataFrame:
    """Answers every request the schema admits, nulls included (MLflow admits a null in a
    required double or string column)."""
    return pd.DataFrame(
        {"score": rows["area"].fillna(0.0) * 2.0, "town": rows["city"].fillna("unknown")}
    )


def _report(function: Any, **settings: Any) -> DryRunReport:
    """The report of the stages ``kedro dryrun`` runs, on ``function`` as the inference node."""
    inference = Pipeline([node(function, "rows", "predictions", name="predict")])
    config = DryRunConfig(**{"explore": 40, "explore_seconds": 30.0, **settings})
    context = engine_context(inference, DataCatalog(), "rows", ROWS, config)
    dry_run(context)
    run_stages(context, after_logging(context.config, logged=False, spark=False))
    return context.report


class _Page(HTMLParser):
    """What a browser would fetch, and the text of each ``<pre>`` and table cell."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fetched: list[str] = []
        self.scripts = 0
        self.pre: list[str] = []
        self.text: list[str] = []
        self._in_pre = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for name in ("src", "href", "srcset", "data", "action"):
            if values.get(name):
                self.fetched.append(str(values[name]))
        if tag == "link":
            self.fetched.append(str(values.get("href")))
        if tag == "pre":
            self._in_pre = True
            self.pre.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self._in_pre = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_pre:
            self.pre[-1] += data


def _read(page: str) -> _Page:
    """The page, checked well-formed (it parses as XML) and self-contained."""
    ET.fromstring(page.removeprefix("<!DOCTYPE html>\n"))
    parsed = _Page()
    parsed.feed(page)
    external = [
        url for url in parsed.fetched if urllib.parse.urlparse(url).scheme or url.startswith("//")
    ]
    assert external == [], f"the page fetches {external}"
    assert parsed.scripts == 0
    assert "@import" not in page and "url(" not in page
    return parsed


def test_a_finding_is_shown_with_its_replay_command_escaped():
    report = _report(centred)
    assert report.explore is not None and report.explore["status"] == "warned", report.explore
    page = render(report)

    parsed = _read(page)
    findings = report.explore["findings"]
    assert {finding["kind"] for finding in findings} == {"batch_dependent"}
    for finding in findings:
        command = replay(finding["request"])
        assert command in parsed.pre  # copyable as is, from its own <pre>
        assert command not in page  # its quotes are escaped in the HTML source
        assert finding["message"] in "".join(parsed.text)
        assert replay(finding["other"]["request"]) in parsed.pre
    text = " ".join(parsed.text)
    assert "batch_dependent" in text and "(score)" in text
    assert "Dry run verdict: passed" in text


def test_an_unservable_output_names_the_value_and_the_check_that_failed():
    report = dry_run(output_context(pd.DataFrame({"price": [decimal.Decimal("1.5")]})))
    page = render(report)

    parsed = _read(page)
    assert report.status == "failed"
    text = " ".join(parsed.text)
    assert "cannot be served" in text and "Fix: convert Decimal to float." in text
    assert any("holds a Decimal" in block for block in parsed.pre)
    assert "(no answer: the output cannot be written as JSON)" in text


def test_a_passing_run_shows_the_schema_the_sample_and_the_answers():
    report = _report(steady)
    page = render(report)

    parsed = _read(page)
    assert report.passed, report.reason
    text = " ".join(parsed.text)
    assert "No request the input schema admits was answered wrongly" in text
    table = ET.fromstring(page.removeprefix("<!DOCTYPE html>\n")).find(".//table[@id='outputs']")
    assert table is not None
    cells = [" ".join(cell.itertext()).strip() for cell in table.iter("td")]
    assert cells == ["score", "double", "yes", "town", "string", "yes"]
    preview = ET.fromstring(page.removeprefix("<!DOCTYPE html>\n")).find(".//table[@id='preview']")
    assert preview is not None
    first_row = [" ".join(cell.itertext()).strip() for cell in preview.iter("tr")][1:2]
    assert first_row and "Lyon" in first_row[0]
    assert json.dumps({"score": 104.0, "town": "Lyon"}) in html.unescape(page)
    for name, version in report.versions.items():
        assert name in text and version in text


def test_an_environment_failure_is_logged_as_the_run_s_html_report(project, in_process):
    """A training run whose model misses its own package: the run carries the page."""
    project.set_dryrun(drop_columns=["price"], ship_project_code=False, on_failure="warn")

    in_process(pipeline_name="training")

    view = project.mlflow_view()
    assert view.tags["dryrun.environment"] == "failed"
    local = mlflow.artifacts.download_artifacts(
        run_id=view.run.info.run_id,
        artifact_path="dryrun/report.html",
        tracking_uri=project.tracking_uri,
        dst_path=str(project.path.parent / "html"),
    )
    page = Path(local).read_text()
    parsed = _read(page)
    root = ET.fromstring(page.removeprefix("<!DOCTYPE html>\n"))
    environment = root.find(".//table[@id='environment']")
    assert environment is not None
    rows = {
        cells[0]: cells[1:]
        for row in environment.iter("tr")
        if (cells := [" ".join(cell.itertext()).strip() for cell in row.iter("td")])
    }
    assert rows[PACKAGE] == ["none found", "MISSING: the model cannot load without it"]
    assert rows["kedro_mlflow"][0] == "kedro-mlflow"
    assert rows["kedro_mlflow"][1].startswith("kedro-mlflow==")
    text = " ".join(parsed.text)
    assert f"'{PACKAGE}' is the project's package" in text
    assert "Dry run verdict: failed (dry run passed, environment failed)" in text


@pytest.mark.parametrize("status", ["skipped", "error"])
def test_a_report_without_a_verdict_on_the_model_still_renders(status):
    report = DryRunReport()
    getattr(report, "skip" if status == "skipped" else "error")("a reason <with> 'markup'")

    parsed = _read(render(report))

    assert "a reason <with> 'markup'" in " ".join(parsed.text)
