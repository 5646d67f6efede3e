"""The settings of ``conf/<env>/dryrun.yml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from kedro_mlflow_dryrun.errors import ConfigError

CONFIG_PATTERNS = ["dryrun*", "dryrun*/**", "**/dryrun*"]
ON_FAILURE_CHOICES = ("fail", "warn")


@dataclass(frozen=True)
class DryRunConfig:
    """What the dry run does; every field has the default a new user needs."""

    enabled: bool = True
    sample_size: int = 100
    sample_dataset: str | None = None
    drop_columns: tuple[str, ...] = ()
    on_failure: str = "fail"
    strict_json: bool = False
    serve_check: bool = True
    input_example_rows: int = 5

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> DryRunConfig:
        """Validates ``dryrun.yml`` so that a typo fails the run before training."""
        values = dict(values or {})
        known = [field.name for field in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(
                f"dryrun.yml: unknown key(s) {', '.join(map(repr, unknown))}; "
                f"valid keys are {', '.join(known)}."
            )
        for name, value in values.items():
            expected = _EXPECTED_TYPES[name]
            if not isinstance(value, expected) or isinstance(value, bool) != (bool in expected):
                names = " or ".join(t.__name__ for t in expected if t is not type(None))
                raise ConfigError(f"dryrun.yml: '{name}' must be a {names}, got {value!r}.")
        if "drop_columns" in values:
            values["drop_columns"] = tuple(map(str, values["drop_columns"]))
        config = cls(**values)
        for name in ("sample_size", "input_example_rows"):
            minimum = 1 if name == "sample_size" else 0
            if getattr(config, name) < minimum:
                raise ConfigError(
                    f"dryrun.yml: '{name}' must be at least {minimum}, got {getattr(config, name)}."
                )
        if config.on_failure not in ON_FAILURE_CHOICES:
            raise ConfigError(
                f"dryrun.yml: 'on_failure' must be 'fail' or 'warn', got {config.on_failure!r}."
            )
        return config


_EXPECTED_TYPES: dict[str, tuple[type, ...]] = {
    "enabled": (bool,),
    "sample_size": (int,),
    "sample_dataset": (str, type(None)),
    "drop_columns": (list, tuple),
    "on_failure": (str,),
    "strict_json": (bool,),
    "serve_check": (bool,),
    "input_example_rows": (int,),
}
