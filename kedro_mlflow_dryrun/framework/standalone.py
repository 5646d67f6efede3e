"""The dry run without training: ``kedro dryrun`` before training, or on a logged model.

Both build an engine context and run the same stages as a training run; neither
starts an MLflow run. The pre-flight needs no tracking server and writes nothing;
the check of a logged model reads it from the project's tracking server, and writes
only the signature it is asked to (``--set-signature``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kedro_mlflow_dryrun import engine
from kedro_mlflow_dryrun.errors import PipelineDefinitionError
from kedro_mlflow_dryrun.framework.project import (
    load_config,
    registered_pipeline_ml,
    training_context,
    use_project_tracking,
)

if TYPE_CHECKING:
    from pathlib import Path

    from kedro.framework.context import KedroContext
    from kedro_mlflow.pipeline.pipeline_ml import PipelineML
    from mlflow.models import ModelSignature

    from kedro_mlflow_dryrun.adapters.logged_models import LoggedModelRef
    from kedro_mlflow_dryrun.adapters.model_sources import LoggedPyfuncModel
    from kedro_mlflow_dryrun.config import DryRunConfig
    from kedro_mlflow_dryrun.context import DryRunContext
    from kedro_mlflow_dryrun.samples import SampleCapture


def preflight(project: KedroContext, pipeline_name: str | None) -> DryRunContext:
    """The inference pipeline on a partial read of its input, with the last training's
    artifacts: the verdict and signature a training run would log, in seconds."""
    pipeline = registered_pipeline_ml(pipeline_name)
    context = training_context(load_config(project), pipeline, project.catalog)
    with engine.dry_run(context, _NeverLogged(project, pipeline)):
        pass  # nothing logs the model
    return context


@dataclass
class _NeverLogged:
    """Before training no model is logged: the Spark batch check scores the inference
    pipeline saved as kedro-mlflow would log it, in a temporary directory."""

    project: KedroContext
    pipeline: PipelineML
    checks_logged_model = False
    audits_environment = False

    def while_logging(self, context: DryRunContext) -> AbstractContextManager[None]:
        return nullcontext()

    @contextmanager
    def spark_scoring(self, context: DryRunContext) -> Iterator[bool]:
        from kedro_mlflow_dryrun.adapters.model_sources import saved_pipeline_model
        from kedro_mlflow_dryrun.stages import spark
        from kedro_mlflow_dryrun.stages.environment import project_package

        if not spark.wanted(context.config):
            yield False
            return
        package = project_package(self.project.project_path)
        code_paths = [str(package)] if package is not None else []
        catalog = self.project.catalog
        with saved_pipeline_model(self.pipeline, catalog, context.signature, code_paths) as uri:
            context.report.model_uri = uri
            try:
                yield True
            finally:
                context.report.model_uri = None


@dataclass
class LoggedModelCheck:
    """What ``kedro dryrun --model-uri`` found, and the signature before and after; the
    model it checks is logged already."""

    context: DryRunContext
    model: LoggedModelRef
    signature_before: ModelSignature | None
    #: ``--set-signature``: the output schema is written once every check has passed.
    set_signature: bool = False
    #: ``--fresh``: the stages a training run runs on the model it logged.
    checks_logged_model: bool = False
    #: ``--env-manager`` without ``--fresh``: the environment audit for that manager.
    audits_environment: bool = False
    signature_written: ModelSignature | None = None

    def while_logging(self, context: DryRunContext) -> AbstractContextManager[None]:
        return nullcontext()

    @contextmanager
    def spark_scoring(self, context: DryRunContext) -> Iterator[bool]:
        """Spark scores the model with the signature just written, if it was asked for."""
        from kedro_mlflow_dryrun.adapters.logged_models import set_signature

        if self.set_signature and context.signature is not None:
            self.signature_written = set_signature(self.model, context.signature)
        yield True


def check_logged_model(
    project: KedroContext,
    model_uri: str,
    pipeline_name: str | None,
    input_file: Path | None,
    set_signature: bool,
    fresh: bool,
    audit: bool = False,
) -> LoggedModelCheck:
    """The logged model answers the sample through the scoring server's request path.

    ``fresh`` adds the stages a training run runs on the model it logged; ``audit`` (an
    env manager named on the command line) the environment audit for that manager.
    """
    from kedro_mlflow_dryrun.adapters.logged_models import resolve_model_uri
    from kedro_mlflow_dryrun.adapters.model_sources import LoggedPyfuncModel
    from kedro_mlflow_dryrun.context import DryRunContext

    use_project_tracking(project)
    reference = resolve_model_uri(model_uri)
    model = LoggedPyfuncModel(reference.uri)
    config = _requests_keep_model_inputs(load_config(project), model)
    if input_file is not None:
        input_name, captured = input_file.name, _file_sample(input_file, config)
    else:
        input_name, captured = _catalog_input_name(config, pipeline_name), None
    registered: dict[str, object] = {"registered_model_name": reference.registered_name}
    context = DryRunContext(
        config,
        model=model,
        input_name=input_name,
        catalog=None if input_file is not None else project.catalog,
        captured=captured,
        log_model_kwargs=registered if reference.registered_name else {},
        model_version=reference.version,
        project_path=project.project_path,
    )
    context.report.model_uri = reference.uri
    signature_before = model.model.metadata.signature
    check = LoggedModelCheck(context, reference, signature_before, set_signature, fresh, audit)
    with engine.dry_run(context, check):
        pass  # the model is logged already
    return check


def _requests_keep_model_inputs(config: DryRunConfig, model: LoggedPyfuncModel) -> DryRunConfig:
    """``drop_columns`` cannot take out a column the logged model's input schema demands
    (kedro-mlflow's own signature lists the target): its requests carry it."""
    schema = model.model.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        return config
    needed = set(schema.input_names())
    kept = tuple(column for column in config.drop_columns if column not in needed)
    return replace(config, drop_columns=kept)


def _catalog_input_name(config: DryRunConfig, pipeline_name: str | None) -> str:
    """The dataset to sample: the ``PipelineML``'s input, unless ``sample_dataset`` names one."""
    try:
        return registered_pipeline_ml(pipeline_name).input_name
    except PipelineDefinitionError as error:
        if config.sample_dataset and pipeline_name is None:
            return config.sample_dataset
        raise PipelineDefinitionError(
            f"{error}\nOr give the sample yourself: kedro dryrun --model-uri ... --input FILE."
        ) from error


def _file_sample(path: Path, config: DryRunConfig) -> SampleCapture:
    """``--input FILE`` stands where training's capture would."""
    from kedro_mlflow_dryrun.adapters.inputs import read_file
    from kedro_mlflow_dryrun.samples import Sample, SampleCapture

    capture = SampleCapture(path.name, config.sample_size)
    capture.sample = Sample(read_file(path, config.sample_size), f"read from {path.name}")
    return capture
