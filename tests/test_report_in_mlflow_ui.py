"""``dryrun/report.html`` as a reviewer reads it: in the MLflow UI, in a real headless browser.

A training run logs to a real ``mlflow server``; Chromium, driven by Playwright, opens
the run's artifact view on the report, which the UI shows in a frame, and reads the
finding there. ``playwright install`` cannot download a browser on every machine: the
test uses Playwright's own Chromium when there is one, else the system's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from explore_projects import BATCH_DEPENDENT, LOG_MODEL_KWARGS, SETTINGS
from servers import mlflow_server
from support import Project

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
#: A quiet browser: no sandbox (root in a container), and nothing fetched of its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
UI_SECONDS = 120


def _chromium() -> str | None:
    """The browser to drive: Playwright's own when installed, else the system's; None: neither."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        own = Path(playwright.chromium.executable_path)
    if own.exists():
        return str(own)
    return str(SYSTEM_CHROMIUM) if SYSTEM_CHROMIUM.exists() else None


def test_the_finding_reads_in_the_mlflow_ui_artifact_view(project: Project, tmp_path: Path):
    pytest.importorskip("playwright", reason="the test extra installs playwright")
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip(
            "No browser to open the MLflow UI with: Playwright has none installed "
            f"('playwright install chromium' downloads one) and {SYSTEM_CHROMIUM} does not exist "
            "('apt-get install chromium' installs it)."
        )
    from playwright.sync_api import sync_playwright

    server_root = tmp_path / "server"
    server_root.mkdir()
    with mlflow_server(server_root) as server:
        project.track_to(server.url)
        project.override_node(BATCH_DEPENDENT)
        project.set_log_model_kwargs(LOG_MODEL_KWARGS)
        project.set_dryrun(**SETTINGS)
        trained = project.kedro("run", "--pipeline=training")
        assert trained.returncode == 0, trained.output
        assert "batch_dependent ('band')" in trained.output

        client = MlflowClient(tracking_uri=server.url)
        experiment = client.get_experiment_by_name("house_prices")
        assert experiment is not None
        (run,) = client.search_runs([experiment.experiment_id])
        artifact_view = (
            f"{server.url}/#/experiments/{experiment.experiment_id}/runs/{run.info.run_id}"
            "/artifactPath/dryrun/report.html"
        )

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=browser_path, args=CHROMIUM_ARGS, headless=True
            )
            try:
                page = browser.new_page()
                page.set_default_timeout(UI_SECONDS * 1000)
                page.goto(artifact_view)
                report = page.frame_locator("iframe.mlflow-html-iframe")
                finding = report.locator(".finding").first
                finding.wait_for()
                text = finding.inner_text()
                verdict = report.locator(".verdict").inner_text()
                replay = report.locator("pre.replay").first.inner_text()
            finally:
                browser.close()

    assert "batch_dependent" in text and "band" in text
    assert "the same row inside another request" in text
    assert verdict.startswith("Dry run verdict: passed")
    assert replay.startswith("curl -s http://127.0.0.1:5000/invocations")
