"""The one channel for errors that users can act on.

Exception tree::

    MlmeterError
     ├── UserError                 exit code 2: bad input; the message names the fix
     │    ├── SettingsError        a TestSettings field or a --set value is invalid
     │    │    └── ConfigError     a line of a conf file (file:line) is invalid
     │    └── UsageError           a CLI flag or argument combination is invalid
     └── RunError                  exit code 3: the run could not complete
          ├── SUTError             the system under test raised
          ├── SUTTimeoutError      the system under test stopped answering
          └── RunInterrupted       Ctrl-C (exit code 130)

The CLI prints ``error: <message>`` for every ``MlmeterError`` and exits with
its ``exit_code``; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class MlmeterError(Exception):
    """Base of every error mlmeter raises on purpose."""

    exit_code = 1


class UserError(MlmeterError):
    """Bad input from the user; the message says how to fix it."""

    exit_code = 2


class SettingsError(UserError):
    """An invalid setting: names the field and the accepted values."""


class ConfigError(SettingsError):
    """An invalid line in a conf file: carries the file and line number."""

    def __init__(self, path: str, line_no: int, message: str) -> None:
        super().__init__(f"{path}:{line_no}: {message}")
        self.path = path
        self.line_no = line_no


class UsageError(UserError):
    """An invalid command-line flag or combination of flags."""


class RunError(MlmeterError):
    """The run could not complete; logs are still written."""

    exit_code = 3


class SUTError(RunError):
    """The system under test raised an exception."""


class SUTTimeoutError(RunError):
    """The system under test stopped answering within the response timeout."""


class RunInterrupted(RunError):
    """The run was interrupted (Ctrl-C); partial logs are written."""

    exit_code = 130
