"""Errors of the evaluation harness. Each message names the task, row, field or model it is about."""

from __future__ import annotations


class HarnessError(Exception):
    """Base class of every error the harness raises on purpose."""


class TaskDefinitionError(HarnessError, ValueError):
    """A task (Python or YAML) is defined wrongly: unknown key, missing setting, incompatible options."""


class UnknownTaskError(HarnessError, KeyError):
    """A task name is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DataError(HarnessError, ValueError):
    """A data source cannot be read, or one of its rows is malformed (the message names row and field)."""


class SettingError(HarnessError, ValueError):
    """A run setting (a `variformer eval` option or an `evaluate(...)` argument) is out of range or cannot work
    here; the message names the option, the value, the valid range and the fix."""


class CapabilityError(HarnessError, TypeError):
    """The model cannot serve any scoring mode a task accepts."""
