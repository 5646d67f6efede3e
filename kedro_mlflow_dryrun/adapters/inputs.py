"""Input engines: the first rows of whatever ``input_name`` loads as.

Every engine ends in the same place, a small pandas DataFrame or array, the form
a serving request arrives in; the stages never see the engine.
"""

from __future__ import annotations

from kedro_mlflow_dryrun.errors import SampleError


def head(data: object, size: int) -> object:
    """Copies the first ``size`` rows, so the full input can be freed after training."""
    if hasattr(data, "iloc"):
        return data.iloc[:size].copy()
    if hasattr(data, "shape") and hasattr(data, "copy"):
        return data[:size].copy()  # type: ignore[index]
    if isinstance(data, list | tuple):
        return data[:size]
    raise SampleError(
        f"The training input is a {type(data).__name__}, which has no rows to "
        "sample. The dry run needs a pandas DataFrame or Series, a numpy array "
        "or a list as 'input_name'."
    )
