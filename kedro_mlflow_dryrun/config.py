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
    on_failure: str = "fail"
    strict_json: bool = False

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> DryRunConfig:
        """Validates ``dryrun.yml`` so that a typo fails the run before training."""
        values = dict(values or {})
        known = {field.name: field for field in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(
                f"dryrun.yml: unknown key(s) {', '.join(map(repr, unknown))}; "
                f"valid keys are {', '.join(known)}."
            )
        for name, value in values.items():
            expected = type(getattr(cls, name))
            if type(value) is not expected:
                raise ConfigError(
                    f"dryrun.yml: '{name}' must be a {expected.__name__}, got {value!r}."
                )
        config = cls(**values)
        if config.sample_size < 1:
            raise ConfigError(
                f"dryrun.yml: 'sample_size' must be at least 1, got {config.sample_size}."
            )
        if config.on_failure not in ON_FAILURE_CHOICES:
            raise ConfigError(
                f"dryrun.yml: 'on_failure' must be 'fail' or 'warn', got {config.on_failure!r}."
            )
        return config
