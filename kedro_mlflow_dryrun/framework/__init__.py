"""Kedro's entry points to the engine: the hooks and the commands."""
