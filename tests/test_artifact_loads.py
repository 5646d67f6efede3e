"""A big model is read back as few times as the checks need: issue 13.

The project's model dataset writes a line to a file each time it is loaded, as a
user could see it: once by the dry run (from the training catalog; a project's own
dataset may cache, so it is read, not taken as training saved it) and once to load
the logged model back: by the serve check, which makes the request MLflow would
make to validate the input example, or, without the serve check, by MLflow. MLflow's
requirement inference loads it once more in a process of its own, with or without the
plugin: the lines carry the process id, and only this process's loads are counted.
The explore stage sends its requests to the model the serve check loaded; without the
serve check it would load the model itself, so that test turns it off too.
"""

from __future__ import annotations

import os
from pathlib import Path

from support import INFERRED

COUNTING_PICKLE = """
    import os
    from pathlib import Path

    from kedro_datasets.pickle import PickleDataset


    class CountingPickleDataset(PickleDataset):
        def load(self):
            with Path({log!r}).open("a") as log:
                log.write(f"load {{os.getpid()}}\\n")
            return super().load()
"""

CATALOG = """
    houses:
      type: pandas.CSVDataset
      filepath: data/01_raw/houses.csv

    regressor:
      type: house_prices.counting.CountingPickleDataset
      filepath: data/06_models/regressor.pkl
"""


def _loads_in_this_process(loads: Path) -> int:
    return loads.read_text().splitlines().count(f"load {os.getpid()}")


def _counting_project(project, loads: Path):
    project.write("src/house_prices/counting.py", COUNTING_PICKLE.format(log=str(loads)))
    project.write("conf/base/catalog.yml", CATALOG)
    return project


def test_the_serve_check_loads_the_logged_model_in_place_of_mlflow(project, in_process, tmp_path):
    loads = tmp_path / "loads.log"
    _counting_project(project, loads).set_log_model_kwargs(INFERRED)

    in_process(pipeline_names=["training"])

    view = project.mlflow_view()
    assert view.report["status"] == "passed"
    assert view.report["serve"]["rows"] == 100
    assert view.model_info.saved_input_example_info is not None
    # One load by the dry run, one by explore's search beside the logging (the directory
    # MLflow saved), one by the serve check; none by MLflow's validation.
    assert view.report["explore"]["beside_logging"] is True
    assert _loads_in_this_process(loads) == 3


def test_without_serve_check_mlflow_alone_loads_it(project, in_process, tmp_path):
    loads = tmp_path / "loads.log"
    _counting_project(project, loads).set_dryrun(serve_check=False, explore=0)

    in_process(pipeline_names=["training"])

    view = project.mlflow_view()
    assert view.report["status"] == "passed"
    assert view.report.get("serve") is None
    assert _loads_in_this_process(loads) == 2
