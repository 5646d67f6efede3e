import pytest

from kedro_mlflow_dryrun import ConfigError, DryRunConfig


def test_defaults_are_what_a_new_user_gets():
    assert DryRunConfig.from_mapping(None) == DryRunConfig(
        enabled=True, sample_size=100, on_failure="fail", strict_json=False
    )


def test_values_are_read():
    config = DryRunConfig.from_mapping({"sample_size": 5, "on_failure": "warn"})
    assert (config.sample_size, config.on_failure) == (5, "warn")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"sample_sise": 10}, "unknown key(s) 'sample_sise'; valid keys are enabled"),
        ({"sample_size": "10"}, "'sample_size' must be a int, got '10'"),
        ({"sample_size": 0}, "'sample_size' must be at least 1, got 0"),
        ({"enabled": "no"}, "'enabled' must be a bool, got 'no'"),
        ({"on_failure": "raise"}, "'on_failure' must be 'fail' or 'warn', got 'raise'"),
    ],
)
def test_bad_values_say_what_and_where(values, expected):
    with pytest.raises(ConfigError, match=r"^dryrun\.yml: ") as error:
        DryRunConfig.from_mapping(values)
    assert expected in str(error.value)
