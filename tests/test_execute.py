"""Execute: the inference pipeline on the sample, isolated from the project."""

import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node
from kedro_datasets.pandas import CSVDataset

from kedro_mlflow_dryrun import InferenceError
from kedro_mlflow_dryrun.adapters.models import PipelineModel


def scale(houses: pd.DataFrame, factor: float) -> pd.DataFrame:
    houses["area"] *= factor  # mutates its input in place, as real nodes sometimes do
    return houses


def price(scaled: pd.DataFrame, model: dict) -> pd.DataFrame:
    return pd.DataFrame({"price": scaled["area"] * model["per_m2"]})


INFERENCE = Pipeline(
    [
        node(scale, ["houses", "params:factor"], "scaled", name="scale"),
        node(price, ["scaled", "model"], "predictions", name="price"),
    ]
)


@pytest.fixture
def training_catalog(tmp_path):
    return DataCatalog(
        {
            "model": MemoryDataset({"per_m2": 10.0}),
            "params:factor": MemoryDataset(2.0),
            "predictions": CSVDataset(filepath=str(tmp_path / "predictions.csv")),
            "scaled": CSVDataset(filepath=str(tmp_path / "scaled.csv")),
        }
    )


def test_returns_the_output_and_writes_no_dataset(tmp_path, training_catalog):
    sample = pd.DataFrame({"area": [1.0, 2.0]})

    output = PipelineModel(INFERENCE, training_catalog, "houses").predict(sample)

    assert output["price"].tolist() == [20.0, 40.0]
    assert list(tmp_path.iterdir()) == []
    assert sample["area"].tolist() == [1.0, 2.0], "the sample must not be mutated"
    assert training_catalog.load("model") == {"per_m2": 10.0}


def test_a_raising_node_is_named_with_its_error(training_catalog):
    def broken(scaled, model):
        raise ValueError("no 'per_m3' in model")

    scale_node = next(n for n in INFERENCE.nodes if n.name == "scale")
    pipeline = Pipeline(
        [scale_node, node(broken, ["scaled", "model"], "predictions", name="broken")]
    )

    with pytest.raises(InferenceError) as error:
        PipelineModel(pipeline, training_catalog, "houses").predict(pd.DataFrame({"area": [1.0]}))

    message = str(error.value)
    assert "raised in node 'broken' on a sample of 'houses'" in message
    assert "ValueError: no 'per_m3' in model" in message
