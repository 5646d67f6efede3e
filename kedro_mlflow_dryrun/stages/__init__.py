"""The dry run's stages, in the order the engine runs them.

Each stage is a function of a :class:`~kedro_mlflow_dryrun.engine.DryRunContext`:
it reads what earlier stages left there, adds its own findings to the report, and
raises a :class:`~kedro_mlflow_dryrun.errors.DryRunError` when the model cannot serve.
"""
