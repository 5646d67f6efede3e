"""Project settings. kedro-mlflow and kedro-mlflow-dryrun register their hooks
through entry points, so nothing is needed here."""
