"""Infer: the model signature, inputs from the sample and outputs from the dry run."""

from __future__ import annotations

import logging
from typing import Any

from kedro.io import CatalogProtocol
from kedro.pipeline import Pipeline

from kedro_mlflow_dryrun.errors import SignatureMismatchError

logger = logging.getLogger(__name__)

#: kedro-mlflow lets the caller of a served model pick the runner at predict time.
RUNNER_PARAM = {"runner": "SequentialRunner"}


def inference_params(inference: Pipeline, catalog: CatalogProtocol) -> dict[str, Any]:
    """The params schema exactly as kedro-mlflow records it for ``signature: auto``."""
    return {
        name.removeprefix("params:"): catalog.load(name)
        for name in inference.inputs()
        if name.startswith("params:")
    } | RUNNER_PARAM


def infer_model_signature(sample: Any, params: dict[str, Any]) -> Any:
    """Inputs and params: what kedro-mlflow's ``signature: auto`` records, from the sample."""
    from mlflow.models import infer_signature

    return infer_signature(model_input=sample, params=params)


def with_outputs(signature: Any, output: Any) -> Any:
    """The same signature, with the output's schema added."""
    from mlflow.models import ModelSignature

    return ModelSignature(
        inputs=signature.inputs, outputs=infer_output_schema(output), params=signature.params
    )


def infer_output_schema(output: Any) -> Any:
    """Column by column where needed, so one odd column does not hide the others."""
    from mlflow.types import ColSpec, Schema
    from mlflow.types.schema import AnyType
    from mlflow.types.utils import _infer_schema

    try:
        return _infer_schema(output)
    except Exception:  # noqa: BLE001 - MLflow raises many types for untypable data
        if not hasattr(output, "columns"):
            logger.warning("The output's schema cannot be inferred; it is recorded as 'any'.")
            return Schema([ColSpec(type=AnyType())])
    specs = []
    for column in output.columns:
        try:
            specs.extend(_infer_schema(output[[column]]).inputs)
        except Exception:  # noqa: BLE001
            logger.warning(
                "Output column %r cannot be typed by MLflow; it is recorded as 'any'.", column
            )
            specs.append(ColSpec(type=AnyType(), name=str(column)))
    return Schema(specs)


def check_against(signature: Any, output: Any, output_name: str) -> None:
    """Fails when the output does not fit the outputs of a signature the user set."""
    if signature.outputs is None:
        return
    from mlflow.models.utils import _enforce_schema

    try:
        _enforce_schema(output, signature.outputs)
    except Exception as error:
        raise SignatureMismatchError(
            f"Output '{output_name}' does not match the outputs of the signature set in "
            f"log_model_kwargs: {error}\n"
            f"Fix: change the node that returns '{output_name}', or the signature's "
            "outputs, or remove the signature to let the dry run infer it."
        ) from error
