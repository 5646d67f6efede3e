"""Request params: the values a client may send for each param of the model's ParamSchema.

The scoring server enforces a request's top-level ``"params"`` against the ParamSchema
and fills every param left out with its default, on every request. A value the schema
admits may still be one the pipeline cannot use (a currency its rate table does not
know): these strategies send values of each param's type around its default and away
from it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import pandas as pd
from hypothesis import strategies as st
from mlflow.types import DataType, ParamSchema, ParamSpec

from kedro_mlflow_dryrun.adapters.model_sources import RUNNER_PARAM
from kedro_mlflow_dryrun.stages.explore.values import scalar_values

#: kedro-mlflow's served model runs its pipeline with the runner a request names: only
#: Kedro's own in-process runners (ParallelRunner starts processes of its own).
IN_PROCESS_RUNNERS = ("SequentialRunner", "ThreadRunner")
#: Items of a list param (shape ``(-1,)``) in one request.
_MAX_ITEMS = 5


def params(schema: ParamSchema | None) -> st.SearchStrategy[Mapping[str, object]]:
    """Params to send: each param of the schema left out (its default) or given a value,
    as JSON carries it. Hypothesis shrinks toward leaving every param out."""
    optional = {}
    for spec in schema.params if schema is not None else []:
        param_values = _param_values(spec)
        if param_values is not None:
            optional[spec.name] = param_values
    return st.fixed_dictionaries({}, optional=optional)


def _param_values(spec: ParamSpec) -> st.SearchStrategy[Any] | None:
    """Values of the param's type around and away from its default, ready for JSON;
    ``None`` for a type no value of which is sent (an object param keeps its default)."""
    if spec.name in RUNNER_PARAM:
        return st.sampled_from(IN_PROCESS_RUNNERS)
    if not isinstance(spec.dtype, DataType):
        return None
    default = spec.default
    if spec.shape == (-1,):
        observed = [_python(v, spec.dtype) for v in default or []]
        items = scalar_values(spec.dtype, observed).map(_json_param)
        defaults = [[_json_param(v) for v in observed]] if observed else []
        return st.one_of(*map(st.just, defaults), st.lists(items, max_size=_MAX_ITEMS))
    observed = [] if default is None else [_python(default, spec.dtype)]
    return scalar_values(spec.dtype, observed).map(_json_param)


def _python(value: object, data_type: DataType) -> object:
    """A default as the value strategies hold it: datetimes as pandas timestamps."""
    return pd.Timestamp(value) if data_type == DataType.datetime else value


def _json_param(value: object) -> object:
    """A param value as JSON carries it. A datetime param is parsed by numpy, which turns
    nanoseconds into an integer: it is sent to the microsecond, in ISO form."""
    if isinstance(value, pd.Timestamp | datetime.datetime):
        return pd.Timestamp(value).floor("us").isoformat()
    return value
