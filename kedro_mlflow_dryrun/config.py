"""Settings, resolved in one place: ``dryrun.yml`` < environment variable < CLI flag.

The types a key accepts come from :class:`DryRunConfig`'s own fields, so the
validation cannot fall out of step with the settings.
"""

from __future__ import annotations

import os
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields, replace
from typing import Literal, Union, get_args, get_origin, get_type_hints

from kedro_mlflow_dryrun.errors import ConfigError

ENABLED_VARIABLE = "KEDRO_MLFLOW_DRYRUN_ENABLED"
_FALSE_WORDS, _TRUE_WORDS = ("false", "0", "no", "off"), ("true", "1", "yes", "on")
_MINIMUMS = {"sample_size": 1, "input_example_rows": 0, "explore": 0, "explore_seconds": 0.1}

OnFailure = Literal["fail", "warn"]
SampleStrategy = Literal["random", "head"]
Environment = Literal["audit", "fresh", "off"]
#: Words, not on/off: YAML reads those as booleans.
SparkUdf = Literal["auto", "always", "never"]
#: ``mlflow models serve --env-manager``: what builds the served model's environment.
EnvManager = Literal["virtualenv", "uv", "conda", "local"]


@dataclass(frozen=True)
class DryRunConfig:
    """What the dry run does; every field has the default a new user needs."""

    enabled: bool = True
    sample_size: int = 100
    sample_dataset: str | None = None
    sample_strategy: SampleStrategy = "random"
    drop_columns: tuple[str, ...] = ()
    on_failure: OnFailure = "fail"
    #: When the plugin itself could not check (status ``error``): training goes on.
    on_error: OnFailure = "warn"
    on_drift: OnFailure = "warn"
    strict_json: bool = False
    serve_check: bool = True
    input_example_rows: int = 5
    ship_project_code: bool = True
    environment: Environment = "audit"
    #: The env managers the model is served with (MLflow's default: virtualenv); the
    #: environment is judged for them, a defect of another manager only warns.
    env_manager: tuple[EnvManager, ...] = ("virtualenv",)
    #: Requests generated from the input schema after the serve check; 0: none.
    explore: int = 50
    on_explore: OnFailure = "warn"
    #: A safety cap: the search is bounded by ``explore`` requests; past this it stops,
    #: and says so (``dryrun.explore=incomplete``). Sized never to bind on a model that
    #: answers in 20 ms (two or three sends per request, and hypothesis' shrinking).
    explore_seconds: float = 120.0
    #: The Spark batch check: ``auto`` runs it on a SparkSession already active, never starts one.
    spark_udf: SparkUdf = "auto"
    #: A training run writes its checks there as JUnit XML, for CI (relative: to the
    #: directory ``kedro run`` starts in); ``None``: no file.
    junit_xml: str | None = None
    #: Why the dry run is off, when it is: the flag, the variable or ``dryrun.yml``.
    disabled_by: str | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, object] | None) -> DryRunConfig:
        """Validates ``dryrun.yml`` so that a typo fails the run before training."""
        values = dict(values or {})
        hints = get_type_hints(cls)
        known = [field.name for field in fields(cls) if field.name != "disabled_by"]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(
                f"dryrun.yml: unknown key(s) {', '.join(map(repr, unknown))}; "
                f"valid keys are {', '.join(known)}."
            )
        checked = {name: _checked(name, value, hints[name]) for name, value in values.items()}
        config = cls(**checked)  # type: ignore[arg-type]
        if not config.enabled:
            config = replace(config, disabled_by="enabled: false in dryrun.yml")
        return config

    @property
    def skip_reason(self) -> str | None:
        return None if self.enabled else self.disabled_by


def _checked(name: str, value: object, hint: object) -> object:
    """``value`` converted to the field's type, or a ConfigError naming the key."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        if value not in args:
            choices = " or ".join(repr(arg) for arg in args)
            raise ConfigError(f"dryrun.yml: '{name}' must be {choices}, got {value!r}.")
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (hint,) = [arg for arg in args if arg is not type(None)]
        origin = get_origin(hint)
    if origin is tuple and get_origin(args[0]) is Literal:
        return _choices(name, value, get_args(args[0]))
    if origin is tuple:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"dryrun.yml: '{name}' must be a list of names, got {value!r}.")
        return tuple(value)
    assert isinstance(hint, type)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, hint) or (isinstance(value, bool) and hint is not bool):
        raise ConfigError(f"dryrun.yml: '{name}' must be a {hint.__name__}, got {value!r}.")
    minimum = _MINIMUMS.get(name)
    if minimum is not None and value < minimum:  # type: ignore[operator]
        raise ConfigError(f"dryrun.yml: '{name}' must be at least {minimum}, got {value}.")
    return value


def _choices(name: str, value: object, allowed: tuple[object, ...]) -> tuple[object, ...]:
    """One choice, or a list of them, as a tuple: ``env_manager: uv`` or ``[uv, conda]``."""
    chosen = [value] if isinstance(value, str) else value
    if not isinstance(chosen, list | tuple) or not chosen or any(c not in allowed for c in chosen):
        choices = " or ".join(repr(choice) for choice in allowed)
        raise ConfigError(
            f"dryrun.yml: '{name}' must be {choices}, or a list of them, got {value!r}."
        )
    return tuple(dict.fromkeys(chosen))


_cli_overrides: ContextVar[Mapping[str, object] | None] = ContextVar(
    "kedro_mlflow_dryrun_cli", default=None
)


@contextmanager
def cli_overrides(**settings: object) -> Iterator[None]:
    """What a command's flags set, for the hooks of the run it starts."""
    token = _cli_overrides.set(settings)
    try:
        yield
    finally:
        _cli_overrides.reset(token)


def resolve(
    dryrun_yml: Mapping[str, object] | None, environ: Mapping[str, str] = os.environ
) -> DryRunConfig:
    """``dryrun.yml``, then ``KEDRO_MLFLOW_DRYRUN_ENABLED``, then the CLI flags win."""
    config = DryRunConfig.from_mapping(dryrun_yml)
    variable = environ.get(ENABLED_VARIABLE, "").strip().lower()
    if variable in _FALSE_WORDS:
        config = replace(
            config, enabled=False, disabled_by=f"{ENABLED_VARIABLE}={environ[ENABLED_VARIABLE]}"
        )
    elif variable in _TRUE_WORDS:
        config = replace(config, enabled=True, disabled_by=None)
    elif variable:
        raise ConfigError(
            f"{ENABLED_VARIABLE}={environ[ENABLED_VARIABLE]!r} is neither true nor false.\n"
            f"Fix: set it to false (or 0, no) to skip the dry run, true to run it."
        )
    overrides = dict(_cli_overrides.get() or {})
    if overrides.get("enabled") is False:
        overrides.setdefault("disabled_by", "kedro run --no-output-schema")
    return replace(config, **overrides) if overrides else config  # type: ignore[arg-type]
