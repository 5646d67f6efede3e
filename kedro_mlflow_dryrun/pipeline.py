"""``pipeline_ml_factory`` with an ``output_name``: pick the one output to serve.

kedro-mlflow serves exactly one output of the inference pipeline. Naming it
here cuts the inference pipeline down to the nodes that output needs, and
every wrong name fails when the pipelines are registered, not after training.
"""

from __future__ import annotations

import logging
from typing import Any

from kedro.pipeline import Pipeline

from kedro_mlflow_dryrun.errors import PipelineDefinitionError

logger = logging.getLogger(__name__)


def pipeline_ml_factory(
    training: Pipeline,
    inference: Pipeline,
    input_name: str,
    output_name: str | None = None,
    **kedro_mlflow_kwargs: Any,
) -> Any:
    """Returns kedro-mlflow's ``PipelineML`` serving ``output_name`` of ``inference``."""
    from kedro_mlflow.pipeline import pipeline_ml_factory as kedro_mlflow_factory

    served = select_output(inference, input_name, output_name)
    return kedro_mlflow_factory(training, served, input_name, **kedro_mlflow_kwargs)


def select_output(inference: Pipeline, input_name: str, output_name: str | None) -> Pipeline:
    """The part of ``inference`` that ``output_name`` needs; names are checked first."""
    outputs = sorted(inference.outputs())
    if output_name is None:
        if len(outputs) != 1:
            raise PipelineDefinitionError(
                f"The inference pipeline has {len(outputs)} outputs ({_listed(outputs)}) "
                "and kedro-mlflow serves one.\n"
                "Fix: pass output_name=<one of them> to pipeline_ml_factory."
            )
        output_name = outputs[0]
    if output_name not in inference.all_outputs():
        raise PipelineDefinitionError(
            f"output_name='{output_name}' is not produced by the inference pipeline; "
            f"its outputs are {_listed(outputs)}."
        )
    served = inference.to_outputs(output_name)
    if input_name not in served.inputs():
        raise PipelineDefinitionError(
            f"input_name='{input_name}' is not an input of the inference pipeline that "
            f"produces '{output_name}'; its inputs are {_listed(sorted(served.inputs()))}."
        )
    extra = sorted(served.outputs() - {output_name})
    if extra:
        raise PipelineDefinitionError(
            f"The nodes that produce '{output_name}' also return {_listed(extra)}, and "
            "kedro-mlflow serves one output.\n"
            "Fix: make those outputs inputs of a node, or split the node that returns them."
        )
    left_out = sorted(node.name for node in set(inference.nodes) - set(served.nodes))
    if left_out:
        logger.info(
            "Serving '%s': the inference pipeline leaves out node(s) %s, which it does not need.",
            output_name,
            _listed(left_out),
        )
    return served


def _listed(names: list[str]) -> str:
    return ", ".join(f"'{name}'" for name in names) or "none"
