"""Settings: ``dryrun.yml`` < ``KEDRO_MLFLOW_DRYRUN_ENABLED`` < the CLI flag, validated by field."""

import pytest

from kedro_mlflow_dryrun import ConfigError, DryRunConfig
from kedro_mlflow_dryrun.config import cli_overrides, resolve


def test_defaults_are_what_a_new_user_gets():
    assert DryRunConfig.from_mapping(None) == DryRunConfig(
        enabled=True, sample_size=100, on_failure="fail", strict_json=False
    )


def test_values_are_read():
    config = DryRunConfig.from_mapping(
        {"sample_size": 5, "on_failure": "warn", "drop_columns": ["price"], "sample_dataset": None}
    )
    assert (config.sample_size, config.on_failure, config.drop_columns) == (5, "warn", ("price",))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"sample_sise": 10}, "unknown key(s) 'sample_sise'; valid keys are enabled"),
        ({"sample_size": "10"}, "'sample_size' must be a int, got '10'"),
        ({"sample_size": True}, "'sample_size' must be a int, got True"),
        ({"sample_size": 0}, "'sample_size' must be at least 1, got 0"),
        ({"enabled": "no"}, "'enabled' must be a bool, got 'no'"),
        ({"on_failure": "raise"}, "'on_failure' must be 'fail' or 'warn', got 'raise'"),
        ({"sample_strategy": "tail"}, "'sample_strategy' must be 'random' or 'head', got 'tail'"),
        ({"drop_columns": "price"}, "'drop_columns' must be a list of names, got 'price'"),
        ({"sample_dataset": 3}, "'sample_dataset' must be a str, got 3"),
        ({"disabled_by": "me"}, "unknown key(s) 'disabled_by'"),
    ],
)
def test_bad_values_say_what_and_where(values, expected):
    with pytest.raises(ConfigError, match=r"^dryrun\.yml: ") as error:
        DryRunConfig.from_mapping(values)
    assert expected in str(error.value)


@pytest.mark.parametrize("value", ["false", "0", "no", "False", " NO "])
def test_the_variable_turns_the_dry_run_off(value):
    config = resolve({}, {"KEDRO_MLFLOW_DRYRUN_ENABLED": value})

    assert not config.enabled
    assert config.skip_reason == f"KEDRO_MLFLOW_DRYRUN_ENABLED={value}"


def test_the_variable_wins_over_dryrun_yml():
    assert resolve({"enabled": False}, {"KEDRO_MLFLOW_DRYRUN_ENABLED": "true"}).enabled
    off = resolve({"enabled": False}, {})
    assert off.skip_reason == "enabled: false in dryrun.yml"


def test_the_flag_wins_over_the_variable():
    with cli_overrides(enabled=False):
        config = resolve({}, {"KEDRO_MLFLOW_DRYRUN_ENABLED": "true"})

    assert config.skip_reason == "kedro run --no-output-schema"
    assert resolve({}, {}).enabled, "the override ends with the command"


def test_a_variable_that_is_neither_true_nor_false_says_so():
    with pytest.raises(ConfigError, match="KEDRO_MLFLOW_DRYRUN_ENABLED='maybe' is neither"):
        resolve({}, {"KEDRO_MLFLOW_DRYRUN_ENABLED": "maybe"})
