"""The input contract: never stricter than the one kedro-mlflow records from the whole input."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro_datasets.pandas import ParquetDataset
from mlflow.models import infer_signature

from kedro_mlflow_dryrun.stages.sample import read_partial

from engine_contexts import as_frame
from support import EXAMPLE, Project


def houses_missing_a_garden_at_row(row: int, rows: int = 400) -> pd.DataFrame:
    """The example's houses, and a column whose only missing value is at ``row``."""
    example = pd.read_csv(EXAMPLE / "data/01_raw/houses.csv")
    houses = pd.concat([example] * (rows // len(example) + 1), ignore_index=True).head(rows)
    houses.insert(4, "garden", np.where(np.arange(rows) == row, np.nan, 12.5))
    return houses


def input_schema(project) -> list[dict]:
    return project.mlflow_view().signature.inputs.to_dict()


@pytest.mark.parametrize("runner", ["SequentialRunner", "ParallelRunner"])
def test_a_value_missing_beyond_the_sample_leaves_the_column_optional(project, runner):
    houses_missing_a_garden_at_row(200).to_csv(project.path / "data/01_raw/houses.csv", index=False)
    project.set_dryrun(drop_columns=["price"], sample_strategy="head")

    alone = Project(project.path.parent / "kedro_mlflow_alone")
    shutil.copytree(project.path, alone.path)
    without_plugin = alone.kedro_for(runner)(
        "run", "--pipeline=training", f"--runner={runner}", "--no-output-schema"
    )
    assert without_plugin.returncode == 0, without_plugin.output
    expected = [c for c in input_schema(alone) if c["name"] != "price"]

    result = project.kedro_for(runner)("run", "--pipeline=training", f"--runner={runner}")

    assert result.returncode == 0, result.output
    assert "Dry run passed: 100 rows of 'houses'" in result.output
    assert input_schema(project) == expected
    assert {"type": "double", "name": "garden", "required": False} in expected


def test_a_parquet_partial_read_takes_the_types_and_nulls_from_the_footer(tmp_path):
    houses = houses_missing_a_garden_at_row(3_500, rows=4_000)
    houses["rooms"] = houses["rooms"].astype("Int64")
    houses.loc[3_900, "rooms"] = None  # an integer column with one null, far from the start
    path = tmp_path / "houses.parquet"
    houses.to_parquet(path, row_group_size=1_000)
    catalog = DataCatalog({"houses": ParquetDataset(filepath=str(path))})

    sample = read_partial(catalog, "houses", 10)

    whole = pd.read_parquet(path)
    assert sample.schema == infer_signature(model_input=whole).inputs
    assert as_frame(sample.data).dtypes.to_dict() == whole.dtypes.to_dict()
    assert [(c.name, c.required) for c in sample.schema.inputs if not c.required] == [
        ("rooms", False),
        ("garden", False),
    ]


def test_a_parquet_file_without_null_counts_leaves_the_schema_to_a_full_read(tmp_path):
    path = tmp_path / "houses.parquet"
    houses_missing_a_garden_at_row(300).to_parquet(path, write_statistics=False)
    catalog = DataCatalog({"houses": ParquetDataset(filepath=str(path))})

    assert read_partial(catalog, "houses", 10).schema is None
