"""Sample: the rows of the training input the inference pipeline is tried on.

Training loads ``input_name`` anyway; a
:class:`~kedro_mlflow_dryrun.samples.SampleCapture` keeps a sample of what it loaded
(``sample_strategy``: random rows, seeded, or the first rows), and the whole input's
schema while the whole input is at hand. Only where training never
loaded it (a partial run, a runner whose dataset hooks stay in worker processes,
``kedro dryrun``) are the first rows read from the catalog entry, and never the
whole dataset: rows further in cannot be reached without reading all before them.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from kedro_mlflow_dryrun.adapters import inputs
from kedro_mlflow_dryrun.adapters.datasets import read_head
from kedro_mlflow_dryrun.errors import DryRunSkipped, IncompatibleVersionError, SampleError
from kedro_mlflow_dryrun.samples import Sample, type_name

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol

    from kedro_mlflow_dryrun.config import SampleStrategy
    from kedro_mlflow_dryrun.context import DryRunContext

logger = logging.getLogger(__name__)

PARTIAL_READ = "partial read of the catalog entry"
LOADED_WHOLE = "the catalog entry, loaded whole"


def take(context: DryRunContext) -> None:
    """The sample: captured from training, or read in part from the catalog."""
    config, report = context.config, context.report
    dataset_name = config.sample_dataset or context.input_name
    capture = context.captured
    if capture is not None and isinstance(capture.error, IncompatibleVersionError):
        raise capture.error
    if capture is not None and capture.error is not None:
        # Nothing says the model cannot serve: nothing was checked. kedro-mlflow logs
        # its model as without the plugin, and the reason says how to get the check.
        raise _not_a_table(capture.error, dataset_name)
    if capture is not None and capture.sample is not None:
        full = capture.sample
        report.seconds["capture"] = capture.seconds
    elif context.catalog is not None:
        full = read_partial(
            context.catalog, dataset_name, config.sample_size, config.sample_strategy
        )
    else:
        raise SampleError(f"No sample of '{dataset_name}' was given.")
    if not full.rows:
        raise SampleError(
            f"'{dataset_name}' has no rows, so the inference pipeline cannot be tried.\n"
            "Fix: check the training input, or set sample_dataset in dryrun.yml to a "
            "dataset with rows."
        )
    context.full_sample = full
    context.sample = without_columns(full, config.drop_columns)
    report.input_name = context.input_name
    report.sample_rows, report.sample_source = context.sample.rows, context.sample.source
    report.sample_strategy = context.sample.strategy
    report.input_type = full.input_type or type_name(full.data)


def read_partial(
    catalog: CatalogProtocol, dataset_name: str, size: int, strategy: SampleStrategy = "random"
) -> Sample:
    """The first rows of a catalog entry; where they cannot be read alone, the whole entry
    as training loads it (and kedro-mlflow's ``signature: auto`` after it)."""
    if dataset_name not in catalog:
        raise SampleError(_unreadable(dataset_name, "it is not in the catalog"))
    dataset = catalog.get(dataset_name)
    kind = type(dataset).__name__
    try:
        rows = read_head(dataset, size) if dataset is not None else None
    except Exception as error:  # noqa: BLE001 - a directory, a missing file, a changed API
        raised = error.what if isinstance(error, IncompatibleVersionError) else error
        why = f"reading its first rows raised {type(error).__name__}: {raised}"
        logger.warning("The dry run loads '%s' whole: %s.", dataset_name, why)
        return _loaded_whole(catalog, dataset_name, size, strategy, why)
    if rows is None:
        why = f"a {kind} cannot be read in part"
        logger.info("The dry run loads '%s' whole: %s.", dataset_name, why)
        return _loaded_whole(catalog, dataset_name, size, strategy, why)
    return Sample.of(rows, PARTIAL_READ)


def _loaded_whole(
    catalog: CatalogProtocol, dataset_name: str, size: int, strategy: SampleStrategy, why: str
) -> Sample:
    """The sample of the whole entry; if even that fails, nothing is checked: skipped."""
    try:
        data = catalog.load(dataset_name)
    except Exception as error:
        raise DryRunSkipped(
            f"The dry run needs a sample of '{dataset_name}', but training did not load it, "
            f"{why}, and loading it whole raised {type(error).__name__}: {error}\n"
            f"Fix: run the whole training pipeline, or set sample_dataset in dryrun.yml to "
            "a catalog entry holding the same columns that can be read."
        ) from error
    try:
        rows = inputs.take(data, size, strategy)
    except SampleError as error:
        raise _not_a_table(error, dataset_name) from error
    return Sample.of(rows, f"{LOADED_WHOLE}: {why}")


def _not_a_table(error: Exception, dataset_name: str) -> DryRunSkipped:
    return DryRunSkipped(
        f"{error}\nFix: set sample_dataset in dryrun.yml to a catalog entry "
        "holding the same columns as a table (CSV, Parquet, pandas, Polars, Spark), or "
        f"make '{dataset_name}' load as one, e.g. convert it to a pandas DataFrame in "
        "the node that writes it."
    )


def _unreadable(dataset_name: str, reason: str) -> str:
    return (
        f"The dry run needs a sample of '{dataset_name}', but training did not "
        f"load it and {reason}.\n"
        f"Fix: run the whole training pipeline, or declare '{dataset_name}' as a "
        "CSV, Parquet, Polars or Spark dataset so its first rows can be read, or set "
        "sample_dataset in dryrun.yml to one that can."
    )


def without_columns(sample: Sample, columns: tuple[str, ...]) -> Sample:
    """Takes out columns, such as the target, that serving requests will not carry."""
    if not columns:
        return sample
    present = [str(name) for name in getattr(sample.data, "columns", [])]
    missing = [name for name in columns if name not in present]
    if missing:
        raise SampleError(
            f"dryrun.yml: drop_columns names {missing}, which the sample does not have; "
            f"its columns are {present}."
        )
    return replace(sample, data=sample.data.drop(columns=list(columns)))  # type: ignore[attr-defined]
