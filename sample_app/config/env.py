"""Typed readers for settings that come from environment variables.

Every reader fails with ImproperlyConfigured and the variable's name, so a typo in an env file
stops the process at start-up with a message that says what to fix.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def env_str(name: str, default: str | None = None) -> str | None:
    """The variable's value; an unset or empty variable gives `default`."""
    value = os.environ.get(name, "")
    return value if value != "" else default


def env_required(name: str, hint: str = "") -> str:
    """The variable's value; an unset or empty variable is a configuration error."""
    value = os.environ.get(name, "")
    if value == "":
        message = f"The {name} environment variable is required and is not set."
        raise ImproperlyConfigured(f"{message} {hint}".strip())
    return value


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of true/false/1/0/yes/no/on/off, got {value!r}."
    )


def env_int(name: str, default: int | None) -> int | None:
    value = env_str(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}.") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated list; blanks around items and empty items are dropped."""
    value = env_str(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]
