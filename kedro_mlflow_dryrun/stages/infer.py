"""Infer: the model signature, inputs from the whole input and outputs from the dry run.

``inputs`` runs before the model does, so that kedro-mlflow has an input signature
(and skips its full reload of the input) even when the dry run fails later.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kedro_mlflow_dryrun import compat
from kedro_mlflow_dryrun.errors import SignatureMismatchError
from kedro_mlflow_dryrun.stages.contract import input_schema

if TYPE_CHECKING:
    from mlflow.models import ModelSignature
    from mlflow.types import Schema

    from kedro_mlflow_dryrun.context import DryRunContext

logger = logging.getLogger(__name__)


def inputs(context: DryRunContext) -> None:
    """Inputs and params, as kedro-mlflow's ``signature: auto`` records them."""
    from mlflow.models import ModelSignature, infer_signature

    setting = context.model.signature()
    if isinstance(setting, ModelSignature):
        context.signature = setting
    elif setting == "auto":
        context.signature = ModelSignature(
            inputs=input_schema(context),
            params=infer_signature(params=context.model.params()).params,
        )
        context.log_model_kwargs["signature"] = context.signature
    context.report.signature = context.signature


def outputs(context: DryRunContext) -> None:
    """Adds the output's schema; a signature the user set is checked, not changed.

    A logged model's signature (``fills_outputs``) keeps its inputs and params and
    gets the outputs.
    """
    from mlflow.models import ModelSignature

    signature, setting = context.signature, context.model.signature()
    if signature is None:
        return
    if setting != "auto" and not context.model.fills_outputs:
        _check_against(signature, context.output, context.model.output_name)
        return
    context.signature = ModelSignature(
        inputs=signature.inputs,
        outputs=infer_output_schema(context.output),
        params=signature.params,
    )
    context.log_model_kwargs["signature"] = context.signature
    context.report.signature = context.signature
    rows = context.config.input_example_rows
    if rows and context.sample is not None:
        # Only with the plugin's own signature, which the example is known to fit.
        context.log_model_kwargs.setdefault("input_example", context.sample.data[:rows])  # type: ignore[index]


def infer_output_schema(output: object) -> Schema:
    """Column by column where needed, so one odd column does not hide the others.

    A 1-D array of scalars is one column of their type, not a tensor as MLflow's
    ``infer_signature`` records it: served, it is a JSON list of scalars either way,
    and a column type is what the MLflow UI shows and ``spark_udf`` can return
    (``object``, a tensor type, it cannot type at all).
    """
    from mlflow.types import ColSpec, Schema
    from mlflow.types.schema import AnyType

    if (one_column := _scalar_column(output)) is not None:
        return one_column
    try:
        return compat.infer_schema(output)
    except compat.IncompatibleVersionError:
        raise
    except Exception:  # noqa: BLE001 - MLflow raises many types for untypable data
        if not hasattr(output, "columns"):
            logger.warning("The output's schema cannot be inferred; it is recorded as 'any'.")
            return Schema([ColSpec(type=AnyType())])
    specs = []
    for column in output.columns:
        try:
            specs.extend(compat.infer_schema(output[[column]]).inputs)  # type: ignore[index]
        except Exception:  # noqa: BLE001
            logger.warning(
                "Output column %r cannot be typed by MLflow; it is recorded as 'any'.", column
            )
            specs.append(ColSpec(type=AnyType(), name=str(column)))
    return Schema(specs)


def _scalar_column(output: object) -> Schema | None:
    """One unnamed column for a 1-D numpy array of scalars; ``None`` for anything else."""
    import numpy as np
    import pandas as pd
    from mlflow.types import DataType

    if not isinstance(output, np.ndarray) or output.ndim != 1:
        return None
    try:
        schema = compat.infer_schema(pd.Series(output))
    except Exception:  # noqa: BLE001 - not scalars MLflow can type: it stays a tensor
        return None
    return schema if isinstance(schema.inputs[0].type, DataType) else None


def _check_against(signature: ModelSignature, output: object, output_name: str) -> None:
    """Fails when the output does not fit the outputs of a signature the user set."""
    if signature.outputs is None:
        return
    from mlflow.models import validate_schema

    try:
        validate_schema(output, signature.outputs)
    except Exception as error:
        raise SignatureMismatchError(
            f"Output '{output_name}' does not match the outputs of the signature set in "
            f"log_model_kwargs: {error}\n"
            f"Fix: change the node that returns '{output_name}', or the signature's "
            "outputs, or remove the signature to let the dry run infer it."
        ) from error
