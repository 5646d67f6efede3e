"""The environment audit's mechanics: pickles read without unpickling, requirement closures."""

from __future__ import annotations

import collections
import fractions
import pickle
import sys
import types
from pathlib import Path

import pytest

from kedro_mlflow_dryrun.adapters import distributions, model_files


@pytest.fixture
def ghost_pickle(tmp_path: Path):
    """A pickle naming a module that no longer exists: unpickling it would raise."""

    def dump(protocol: int) -> Path:
        module = types.ModuleType("ghost_module")
        module.Ghost = type("Ghost", (), {"__module__": module.__name__})  # type: ignore[attr-defined]
        sys.modules[module.__name__] = module
        try:
            payload = {
                "ghosts": [module.Ghost(), module.Ghost()],  # the second: module by memo
                "ordered": collections.OrderedDict(a=1),
                "fraction": fractions.Fraction(1, 3),
            }
            path = tmp_path / f"protocol{protocol}.pkl"
            path.write_bytes(pickle.dumps(payload, protocol=protocol))
        finally:
            del sys.modules[module.__name__]
        return path

    return dump


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_pickle_names_its_modules_without_being_unpickled(ghost_pickle, protocol):
    path = ghost_pickle(protocol)

    with pytest.raises(ModuleNotFoundError):
        pickle.loads(path.read_bytes())
    assert {"ghost_module", "collections", "fractions"} <= model_files.pickle_modules(path)


def test_a_pickle_of_plain_data_needs_no_module(tmp_path):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"low": 1, "names": ["numpy", "pandas"]}))

    assert model_files.pickle_modules(path) == set()


def test_the_closure_holds_what_pip_installs_with_a_requirement():
    from mlflow.utils.requirements_utils import _get_requires_recursive

    closure = distributions.requirement_closure(["kedro-mlflow==2.0.3"])

    assert {"kedro-mlflow", "kedro", "fsspec"} <= closure
    assert set(_get_requires_recursive("kedro-mlflow")) <= closure


def test_the_closure_follows_extras_and_skips_what_is_no_requirement():
    plain = distributions.requirement_closure(["kedro-datasets"])
    with_extra = distributions.requirement_closure(["kedro-datasets[pandas-csvdataset]", "# x"])

    assert "pandas" not in plain
    assert {"pandas", "kedro-datasets", "kedro"} <= with_extra
    assert distributions.requirement_closure(["-r other.txt", "./local/path"]) == set()


def test_an_editable_install_is_a_local_source_and_an_index_one_is_not():
    assert (distributions.local_source("kedro-mlflow-dryrun") or "").startswith("editable ")
    assert distributions.local_source("kedro") is None


def test_past_the_opcode_budget_the_rest_is_searched_for_globals(tmp_path):
    path = tmp_path / "many.pkl"
    many = [float(i) for i in range(1000)] + [fractions.Fraction(1, 3)]
    path.write_bytes(pickle.dumps(many, protocol=5))

    assert model_files.pickle_modules(path, opcode_budget=50) == {"fractions"}


def test_a_node_function_needs_its_module_and_what_that_module_imports(tmp_path, monkeypatch):
    import functools
    import importlib

    (tmp_path / "node_module.py").write_text(
        "import json as js\nfrom fractions import Fraction\n\ndef node(x):\n    return x\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("node_module")

    modules = model_files.function_modules(functools.partial(module.node, 1))

    assert {"node_module", "json", "fractions"} <= modules
