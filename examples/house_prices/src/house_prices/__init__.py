"""House prices: a small kedro-mlflow project that kedro-mlflow-dryrun checks."""
