"""The sample's data types: what training's capture keeps, and the rows the stages try.

They sit below the engine's context, which holds them, and the sample stage, which
fills them in, so that neither of those imports the other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kedro_mlflow_dryrun.adapters import inputs
from kedro_mlflow_dryrun.errors import IncompatibleVersionError, SampleError
from kedro_mlflow_dryrun.report import CAPTURED

if TYPE_CHECKING:
    from mlflow.types import Schema

    from kedro_mlflow_dryrun.config import SampleStrategy


@dataclass(frozen=True)
class Sample:
    """The rows the dry run feeds to the inference pipeline, and where they came from."""

    data: object
    source: str
    #: The whole input's schema as kedro-mlflow records it; ``None``: nothing records it.
    schema: Schema | None = None
    strategy: SampleStrategy = "head"
    #: What the input loads as (``pandas.DataFrame``, ``polars.DataFrame``, ...).
    input_type: str | None = None

    @classmethod
    def of(cls, rows: inputs.Rows, source: str, loaded: object = None) -> Sample:
        loaded = rows.data if loaded is None else loaded
        return cls(rows.data, source, rows.schema, rows.strategy, type_name(loaded))

    @property
    def rows(self) -> int:
        return len(self.data)  # type: ignore[arg-type]


class SampleCapture:
    """Keeps a sample of one dataset, and its schema, the first time a node loads it.

    It runs inside the training node's task: it never raises, and whatever it
    cannot sample is left for the sample stage to report after the model is logged.
    """

    def __init__(self, dataset_name: str, size: int, strategy: SampleStrategy = "random") -> None:
        self.dataset_name = dataset_name
        self.size = size
        self.strategy: SampleStrategy = strategy
        self.sample: Sample | None = None
        self.error: SampleError | IncompatibleVersionError | None = None
        #: Time spent inside the training node: the sample and the whole input's schema.
        self.seconds = 0.0

    def offer(self, dataset_name: str, data: object) -> None:
        if dataset_name != self.dataset_name or self.sample or self.error:
            return
        try:
            start = time.perf_counter()
            self.sample = Sample.of(inputs.take(data, self.size, self.strategy), CAPTURED, data)
            self.seconds = round(time.perf_counter() - start, 4)
        except (SampleError, IncompatibleVersionError) as error:
            self.error = error
        except Exception as error:  # noqa: BLE001 - must never fail the training node
            self.error = SampleError(
                f"A sample of '{dataset_name}' (a {type(data).__name__}) could not "
                f"be taken: {type(error).__name__}: {error}"
            )


def type_name(data: object) -> str:
    """``pandas.DataFrame``, ``pyspark.DataFrame``: the distribution's module, then the class."""
    kind = type(data)
    return f"{kind.__module__.split('.')[0]}.{kind.__qualname__}"
