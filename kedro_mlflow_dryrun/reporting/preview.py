"""The sample's first rows and the model's answers to them, as the HTML report shows them.

The answers are what the scoring server writes for the dry run's output, so a reviewer
sees the JSON a client gets back, not a Python repr of it.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from kedro_mlflow_dryrun import compat

if TYPE_CHECKING:
    import pandas as pd

#: Enough to read a few answers beside their rows; the report stays small.
PREVIEW_ROWS = 5


def preview(sample: pd.DataFrame, output: object, rows: int = PREVIEW_ROWS) -> dict[str, Any]:
    """``columns`` and ``rows`` of the sample's head, and ``answers``: the first
    ``rows`` predictions as served (``None`` when the server cannot write them)."""
    head = json.loads(
        sample.head(rows).to_json(orient="split", date_format="iso", default_handler=str)
    )
    return {"columns": head["columns"], "rows": head["data"], "answers": _answers(output, rows)}


def _answers(output: object, rows: int) -> list[Any] | None:
    body = io.StringIO()
    try:
        compat.predictions_to_json(output, body)
    except compat.IncompatibleVersionError:
        raise
    except Exception:  # noqa: BLE001 - unservable: the check stage says why
        return None
    predictions = json.loads(body.getvalue(), parse_constant=str)["predictions"]
    return predictions[:rows] if isinstance(predictions, list) else [predictions]
