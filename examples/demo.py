"""Train the example, then show the signature the logged model carries, and its environment.

Run from the repository root: ``.venv/bin/python examples/demo.py``.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent / "house_prices"
TRACKING_URI = f"sqlite:///{PROJECT / 'mlflow.db'}"
QUIET = {"KEDRO_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}


def main() -> int:
    os.environ.update(QUIET)
    kedro = [sys.executable, "-m", "kedro", "run", "--pipeline=training"]
    print("$ kedro run --pipeline=training   (in examples/house_prices)", flush=True)
    if subprocess.run(kedro, cwd=PROJECT, check=False).returncode != 0:
        return 1

    import mlflow
    from mlflow import MlflowClient

    from kedro_mlflow_dryrun.adapters.logged_models import logged_model_of_run

    client = MlflowClient(tracking_uri=TRACKING_URI)
    experiment = client.get_experiment_by_name("house_prices")
    (run,) = client.search_runs([experiment.experiment_id], max_results=1)
    model = logged_model_of_run(run.info.run_id, client, experiment.experiment_id)
    mlflow.set_tracking_uri(TRACKING_URI)
    signature = mlflow.models.get_model_info(f"models:/{model.model_id}").signature
    print(f"\nRun {run.info.run_id}: dryrun.status = {run.data.tags.get('dryrun.status')}")
    print(f"Model {model.model_id} ('{model.name}') was logged with this signature:\n")
    print(signature)
    files = tempfile.mkdtemp(prefix="house_prices-")
    environment, request = (
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"{model.artifact_location}/{name}", dst_path=files
        )
        for name in ("requirements.txt", "serving_input_example.json")
    )
    print(f"\ndryrun.environment = {run.data.tags.get('dryrun.environment')}: served, the model")
    print("gets the project's package in its code/ and installs only these requirements:\n")
    print(Path(environment).read_text())
    print(
        "\nTo check it loads and answers in such an environment, from outside the project\n"
        "(uv builds a virtualenv from those requirements alone, then MLflow predicts in it):\n"
        f"  cd /tmp && PATH={Path(sys.executable).parent}:$PATH "
        f"MLFLOW_TRACKING_URI={TRACKING_URI} {Path(sys.executable).parent}/mlflow models "
        f"predict -m models:/{model.model_id} --env-manager uv --content-type json "
        f"-i {request}\n"
    )
    print(
        "To see it in the MLflow UI:\n"
        f"  .venv/bin/mlflow ui --backend-store-uri {TRACKING_URI}\n"
        "then open http://127.0.0.1:5000, experiment 'house_prices', the latest run, "
        "Logged models > house_prices: the signature lists the inputs and the outputs."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
