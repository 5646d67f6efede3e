"""Explore on a model that answers slowly: what the stage costs and what the verdict says.

kedro-mlflow's tutorial serves text in, a gradient-boosted model, labels out; one answer
takes a noticeable time of the model's own. This writes such a project (a tokenizer,
scikit-learn's ``HistGradientBoostingClassifier`` with many trees, support tickets routed
to teams), trains it with ``kedro run --pipeline=training`` at the plugin's defaults,
and reads back from ``dryrun/report.json`` the explore stage's seconds, its requests and
sends, and the verdict; the model's own time per answer is timed on the logged model, a
one-row request through the scoring server's app.

Needs scikit-learn beside the test extra::

    .venv/bin/pip install scikit-learn
    .venv/bin/python benchmarks/slow_model.py --repeats 3

Writes ``benchmarks/results/slow_model.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from measure import kedro_training_run, machine_info
from provenance import REPO, RESULTS, plugin_sha256, source, write

ENVIRONMENT = {
    "KEDRO_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
#: Trees per class: sized so that one answer takes about 150 ms on the 2-core machine.
TREES = 600
FILES = {
    "pyproject.toml": """
        [tool.kedro]
        package_name = "ticket_triage"
        project_name = "ticket-triage"
        kedro_init_version = "__KEDRO__"
        source_dir = "src"
        """,
    "conf/base/catalog.yml": """
        tickets:
          type: pandas.CSVDataset
          filepath: data/tickets.csv
        vocabulary:
          type: pickle.PickleDataset
          filepath: data/vocabulary.pkl
        classifier:
          type: pickle.PickleDataset
          filepath: data/classifier.pkl
        """,
    "conf/base/parameters.yml": "vocabulary_size: 200\n",
    "conf/base/dryrun.yml": "drop_columns: [team]\n",
    "conf/local/mlflow.yml": """
        server:
          mlflow_tracking_uri: sqlite:///mlflow.db
        tracking:
          experiment:
            name: ticket_triage
        """,
    "src/ticket_triage/__init__.py": "",
    "src/ticket_triage/settings.py": "",
    "src/ticket_triage/pipeline_registry.py": """
        from kedro_mlflow.pipeline import pipeline_ml_factory

        from ticket_triage.nodes import inference, training


        def register_pipelines():
            ml = pipeline_ml_factory(
                training=training(),
                inference=inference(),
                input_name="tickets",
                log_model_kwargs={"name": "ticket_triage"},
            )
            return {"training": ml, "__default__": ml}
        """,
    "src/ticket_triage/nodes.py": """
        import re
        from collections import Counter

        import numpy as np
        import pandas as pd
        from kedro.pipeline import Pipeline, node
        from sklearn.ensemble import HistGradientBoostingClassifier

        TOKEN = re.compile(r"[a-z]+")


        def tokens(text):
            return TOKEN.findall(str(text).lower())


        def build_vocabulary(tickets, size):
            counts = Counter(t for text in tickets["text"] for t in tokens(text))
            return {word: i for i, (word, _) in enumerate(counts.most_common(size))}


        def features(tickets, vocabulary):
            matrix = np.zeros((len(tickets), len(vocabulary) + 1))
            for row, text in enumerate(tickets["text"]):
                for token in tokens(text):
                    if token in vocabulary:
                        matrix[row, vocabulary[token]] += 1
            matrix[:, -1] = tickets["priority"].to_numpy(dtype=float)
            return matrix


        def fit(tickets, vocabulary):
            model = HistGradientBoostingClassifier(
                max_iter=__TREES__, max_leaf_nodes=31, early_stopping=False, random_state=0
            )
            return model.fit(features(tickets, vocabulary), tickets["team"])


        def route(tickets, vocabulary, classifier):
            proba = classifier.predict_proba(features(tickets, vocabulary))
            return pd.DataFrame(
                {"team": classifier.classes_[proba.argmax(axis=1)], "confidence": proba.max(axis=1)}
            )


        def training():
            return Pipeline([
                node(build_vocabulary, ["tickets", "params:vocabulary_size"], "vocabulary"),
                node(fit, ["tickets", "vocabulary"], "classifier"),
            ])


        def inference():
            return Pipeline([node(route, ["tickets", "vocabulary", "classifier"], "routing")])
        """,
}
WORDS = [
    "printer",
    "login",
    "password",
    "vpn",
    "invoice",
    "refund",
    "crash",
    "slow",
    "email",
    "laptop",
    "screen",
    "network",
]
TEAMS = ["it", "billing", "support", "security"]


def make_project(root: Path) -> Path:
    """The ticket-triage project and 2,000 tickets, under ``root``."""
    import kedro
    import numpy as np
    import pandas as pd

    project = root / "ticket_triage"
    for relative, template in FILES.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = template.replace("__TREES__", str(TREES)).replace("__KEDRO__", kedro.__version__)
        path.write_text(textwrap.dedent(text).lstrip())
    rng = np.random.default_rng(0)
    team = rng.choice(TEAMS, 2_000)
    # Six words of noise and the team's name: a hint the model can learn.
    text = [" ".join(rng.choice(WORDS, 6)) + f" {name} {name}" for name in team]
    tickets = pd.DataFrame({"text": text, "priority": rng.integers(1, 5, 2_000), "team": team})
    (project / "data").mkdir()
    tickets.to_csv(project / "data/tickets.csv", index=False)
    return project


def train(project: Path) -> dict[str, Any]:
    """One ``kedro run --pipeline=training`` from an empty store: its wall time and report."""
    for leftover in ("mlruns", "mlartifacts"):
        shutil.rmtree(project / leftover, ignore_errors=True)
    (project / "mlflow.db").unlink(missing_ok=True)
    wall = kedro_training_run(project, {**os.environ, **ENVIRONMENT})
    (report_path,) = project.rglob("dryrun/report.json")
    return {"wall_s": round(wall, 2), "report": json.loads(report_path.read_text())}


def answer_ms(project: Path, repeats: int = 20) -> float:
    """The median time of one one-row request through the scoring server's app."""
    import mlflow
    import pandas as pd

    from kedro_mlflow_dryrun.adapters.models import answer

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    experiment = mlflow.get_experiment_by_name("ticket_triage")
    assert experiment is not None
    (logged,) = mlflow.search_logged_models(
        experiment_ids=[experiment.experiment_id], output_format="list"
    )
    os.chdir(project)
    model = mlflow.pyfunc.load_model(f"models:/{logged.model_id}")
    request = pd.read_csv(project / "data/tickets.csv").drop(columns=["team"]).head(1)
    answer(model, request)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        replied = answer(model, request)
        times.append(time.perf_counter() - start)
        assert replied.status == 200, replied.text
    return round(1000 * statistics.median(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    provenance = {**source(plugin_sha256(REPO)), "machine": machine_info()}
    with tempfile.TemporaryDirectory() as workdir:
        project = make_project(Path(workdir))
        runs = [train(project) for _ in range(args.repeats)]
        per_answer = answer_ms(project)
    explored = [run["report"]["explore"] for run in runs]
    results = {
        "trees_per_class": TREES,
        "answer_ms_median": per_answer,
        "training_run_wall_s": [run["wall_s"] for run in runs],
        # What the stage added after logging; the search's own time (beside the logging,
        # where it ran there) and this process's CPU meanwhile.
        "explore_s_median": statistics.median(run["report"]["seconds"]["explore"] for run in runs),
        "search_s_median": statistics.median(e["seconds"] for e in explored),
        "explore_cpu_s_median": statistics.median(e["cpu_seconds"] for e in explored),
        "beside_logging": [e.get("beside_logging", False) for e in explored],
        "requests": [e["requests"] for e in explored],
        "sent": [e["sent"] for e in explored],
        "sends_per_request": [e["sends_per_request"] for e in explored],
        "explore_status": [e["status"] for e in explored],
        "findings": [[f["kind"] for f in e["findings"] + e["warnings"]] for e in explored],
        # The verdict's words: the dry run's status, then the environment's and explore's.
        "status": runs[-1]["report"]["status"],
        "environment_status": runs[-1]["report"]["environment"]["status"],
    }
    path = write(RESULTS, "slow_model", provenance, vars(args), results)
    print(json.dumps(results, indent=2))
    print(f"written: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
