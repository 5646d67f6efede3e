"""Fixtures: a fresh copy of the example project, run in a subprocess or in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support import Project, example_copy, forget, session_run, track_in_project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A fresh copy of the example project, with its own sqlite MLflow store."""
    return example_copy(tmp_path / "project")


@pytest.fixture
def in_process(project: Project, monkeypatch: pytest.MonkeyPatch):
    """Runs the project with ``KedroSession`` in this process, then forgets it."""
    monkeypatch.chdir(project.path)
    track_in_project(project)

    def run(runtime_params: dict[str, Any] | None = None, **run_kwargs: Any) -> dict[str, Any]:
        return session_run(project, runtime_params, **run_kwargs)

    yield run
    forget(project)


def _hypothesis_profile() -> None:
    """Property tests write nothing and judge no speed: the machine is shared and noisy."""
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "dryrun-tests",
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    settings.load_profile("dryrun-tests")


_hypothesis_profile()
