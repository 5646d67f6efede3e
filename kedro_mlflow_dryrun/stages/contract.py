"""Contract: what the logged model will demand of every serving request.

The input schema is the one kedro-mlflow's ``signature: "auto"`` records from the
whole input, never one guessed from the sample: a column the sample happens to fill
is not required if the input misses it anywhere.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.types import Schema

    from kedro_mlflow_dryrun.context import DryRunContext

logger = logging.getLogger("kedro_mlflow_dryrun")


def input_schema(context: DryRunContext) -> Schema | None:
    """The whole input's schema less ``drop_columns``; read in full only if nothing records it."""
    from mlflow.types import Schema

    from kedro_mlflow_dryrun.adapters.inputs import take

    assert context.sample is not None
    schema = context.sample.schema
    if schema is None:
        dataset_name = context.config.sample_dataset or context.input_name
        logger.info(
            "Inferring the input schema from the whole of '%s', as kedro-mlflow would: "
            "its format records no column types or missing values.",
            dataset_name,
        )
        assert context.catalog is not None
        # The engine profiles the whole input it is given; the one row it takes is dropped.
        schema = take(context.catalog.load(dataset_name), 1, "head").schema
    dropped = set(context.config.drop_columns)
    if schema is None or not dropped:
        return schema
    return Schema([spec for spec in schema.inputs if spec.name not in dropped])


def target(context: DryRunContext) -> None:
    """An input column named as an output column is the target, most likely: a warning."""
    signature = context.signature
    if signature is None or signature.inputs is None or signature.outputs is None:
        return
    if not (signature.inputs.has_input_names() and signature.outputs.has_input_names()):
        return
    outputs = set(signature.outputs.input_names())
    shared = [name for name in signature.inputs.input_names() if name in outputs]
    if shared:
        # Quoted names, no brackets: Kedro's rich log handler reads [..] as markup.
        names = ", ".join(repr(name) for name in shared)
        context.found(
            "target_in_input",
            f"The input schema lists {names}, which the output also holds: the training "
            "target, most likely. Every serving request will have to carry it.\n"
            f"  Fix: add {names} to drop_columns in dryrun.yml.",
        )
