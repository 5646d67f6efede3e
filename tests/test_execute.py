"""Execute: the inference pipeline on the sample, isolated from the project."""

import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node
from kedro_datasets.pandas import CSVDataset

from kedro_mlflow_dryrun import InferenceError
from kedro_mlflow_dryrun.adapters.model_sources import PipelineModel

from engine_contexts import as_frame


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

    output = as_frame(PipelineModel(INFERENCE, training_catalog, "houses").predict(sample))

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


def _mutate_model(houses: pd.DataFrame, model: dict) -> pd.DataFrame:
    model["per_m2"] = -1.0  # a node that changes an artifact in place
    return houses


MUTATING = Pipeline(
    [
        node(_mutate_model, ["houses", "model"], "scaled", name="mutate"),
        node(price, ["scaled", "model"], "predictions", name="price"),
    ]
)


def test_an_artifact_a_node_changes_is_changed_for_the_dry_run_only():
    """A dataset that hands out the object it holds keeps it, whatever the nodes do."""
    held = {"per_m2": 10.0}
    catalog = DataCatalog({"model": MemoryDataset(held, copy_mode="assign")})

    output = as_frame(
        PipelineModel(MUTATING, catalog, "houses").predict(pd.DataFrame({"area": [1.0]}))
    )

    assert output["price"].tolist() == [-1.0], "later nodes see the change, as when served"
    assert catalog.load("model") is held
    assert held == {"per_m2": 10.0}


def test_a_file_artifact_is_loaded_once_and_not_copied(tmp_path, monkeypatch):
    """A big model costs one read per prediction: every node gets the object read."""
    from kedro_datasets.pickle import PickleDataset

    PickleDataset(filepath=str(tmp_path / "model.pkl")).save({"per_m2": 10.0})
    catalog = DataCatalog({"model": PickleDataset(filepath=str(tmp_path / "model.pkl"))})
    loaded, seen = [], []
    real_load = PickleDataset.load

    def counted_load(self: PickleDataset) -> object:
        loaded.append(real_load(self))
        return loaded[-1]

    def record(houses: pd.DataFrame, model: dict) -> pd.DataFrame:
        seen.append(model)
        return houses

    monkeypatch.setattr(PickleDataset, "load", counted_load)
    pipeline = Pipeline(
        [
            node(record, ["houses", "model"], "scaled", name="record"),
            node(price, ["scaled", "model"], "predictions", name="price"),
        ]
    )

    output = as_frame(
        PipelineModel(pipeline, catalog, "houses").predict(pd.DataFrame({"area": [2.0]}))
    )

    assert output["price"].tolist() == [20.0]
    assert len(loaded) == 1
    assert seen[0] is loaded[0]


def test_an_artifact_training_just_saved_to_a_pickle_is_not_read_back(tmp_path):
    from kedro_datasets.pickle import PickleDataset

    from kedro_mlflow_dryrun.adapters.model_sources import SavedArtifacts

    # Nothing on disk: the prediction can only come from the object training saved.
    catalog = DataCatalog({"model": PickleDataset(filepath=str(tmp_path / "model.pkl"))})
    saved = SavedArtifacts(["model"])
    saved.offer("model", {"per_m2": 10.0})
    saved.offer("houses", pd.DataFrame())  # not an artifact: not kept
    pipeline = Pipeline([node(price, ["houses", "model"], "predictions", name="price")])
    model = PipelineModel(pipeline, catalog, "houses", saved=saved)

    output = as_frame(model.predict(pd.DataFrame({"area": [3.0]})))

    assert output["price"].tolist() == [30.0]
    assert saved.objects == {}, "let go once used"
    with pytest.raises(InferenceError, match="did not leave loadable"):
        model.predict(pd.DataFrame({"area": [3.0]}))  # a second prediction reads the file


def test_a_saved_artifact_of_a_caching_dataset_is_read_from_the_catalog(tmp_path):
    from kedro_datasets.pickle import PickleDataset

    from kedro_mlflow_dryrun.adapters.model_sources import SavedArtifacts

    class KeptPickleDataset(PickleDataset):
        pass

    dataset = KeptPickleDataset(filepath=str(tmp_path / "model.pkl"))
    dataset.save({"per_m2": 10.0})
    saved = SavedArtifacts(["model"])
    saved.offer("model", {"per_m2": 99.0})
    pipeline = Pipeline([node(price, ["houses", "model"], "predictions", name="price")])

    model = PipelineModel(pipeline, DataCatalog({"model": dataset}), "houses", saved=saved)
    prices = as_frame(model.predict(pd.DataFrame({"area": [1.0]})))["price"].tolist()

    assert prices == [10.0]
