"""Type checks for the arguments of the public constructors and functions.

Each check raises :class:`ConfigurationError` at the call that received the
wrong type, before the value reaches code that would raise a bare
``TypeError`` or ``AttributeError``, or accept it and fail later. A message
names the argument, the type found and the type expected, and never quotes
the value, which may be a secret (a PEM key passed in the wrong place).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TypeVar

from ._errors import ConfigurationError

T = TypeVar("T")


def type_name(value: object) -> str:
    """Return the name of ``value``'s type, ``None`` for ``None``."""
    if value is None:
        return "None"
    return type(value).__qualname__


def invalid_type(
    name: str, expected: str, value: object, hint: str = ""
) -> ConfigurationError:
    """Build the error for argument ``name`` of the wrong type."""
    message = f"invalid argument {name}: expected {expected}, got {type_name(value)}"
    if hint:
        message += f": {hint}"
    return ConfigurationError(message)


def require_instance(
    value: object,
    types: type[T] | tuple[type[T], ...],
    name: str,
    hint: str = "",
) -> T:
    """Return ``value`` if it is an instance of ``types``.

    A ``bool`` is not accepted where ``int`` or ``float`` is expected, because
    ``True`` passed as a count or a number of seconds is a mistake.

    Raises:
        ConfigurationError: It is not.
    """
    classes = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in classes:
        raise invalid_type(name, _names(classes), value, hint)
    if not isinstance(value, classes):
        raise invalid_type(name, _names(classes), value, hint)
    return value


def optional_instance(
    value: object,
    types: type[T] | tuple[type[T], ...],
    name: str,
    hint: str = "",
) -> T | None:
    """Return ``value`` if it is ``None`` or an instance of ``types``.

    Raises:
        ConfigurationError: It is neither.
    """
    if value is None:
        return None
    classes = types if isinstance(types, tuple) else (types,)
    try:
        return require_instance(value, classes, name, hint)
    except ConfigurationError:
        raise invalid_type(name, _names(classes) + " or None", value, hint) from None


def require_text(value: object, name: str, hint: str = "") -> str:
    """Return ``value`` if it is a ``str``.

    Raises:
        ConfigurationError: It is not.
    """
    return require_instance(value, str, name, hint)


def optional_text(value: object, name: str, hint: str = "") -> str | None:
    """Return ``value`` if it is ``None`` or a ``str``.

    Raises:
        ConfigurationError: It is neither.
    """
    return optional_instance(value, str, name, hint)


def require_bool(value: object, name: str) -> bool:
    """Return ``value`` if it is ``True`` or ``False``.

    A string such as ``"no"`` or a number is rejected, because Python would
    count it as true or false by a rule that the caller did not mean.

    Raises:
        ConfigurationError: It is not a ``bool``.
    """
    if not isinstance(value, bool):
        raise invalid_type(name, "bool", value, "pass True or False")
    return value


def require_path(value: object, name: str) -> str:
    """Return ``value`` as a ``str`` path if it is a ``str`` or ``os.PathLike[str]``.

    A ``bytes`` path is rejected: messages, logs and the token cache handle
    paths as text.

    Raises:
        ConfigurationError: It is neither.
    """
    hint = "pass the path as str or pathlib.Path"
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        if isinstance(path, str):
            return path
        raise invalid_type(name, "str or os.PathLike[str]", path, hint)
    raise invalid_type(name, "str or os.PathLike[str]", value, hint)


def optional_path(value: object, name: str) -> str | None:
    """Return ``value`` as a ``str`` path, or ``None`` if it is ``None``.

    Raises:
        ConfigurationError: It is neither ``None`` nor a path that
            :func:`require_path` accepts.
    """
    if value is None:
        return None
    try:
        return require_path(value, name)
    except ConfigurationError:
        raise invalid_type(
            name,
            "str, os.PathLike[str] or None",
            value,
            "pass the path as str or pathlib.Path",
        ) from None


def require_mapping(value: object, name: str, hint: str = "") -> Mapping[str, object]:
    """Return ``value`` if it is a mapping, such as a ``dict``.

    Raises:
        ConfigurationError: It is not.
    """
    if not isinstance(value, Mapping):
        raise invalid_type(name, "a mapping", value, hint)
    return value


def require_callable(value: object, name: str) -> Callable[..., object]:
    """Return ``value`` if it can be called.

    Raises:
        ConfigurationError: It cannot.
    """
    if not callable(value):
        raise invalid_type(name, "a callable", value)
    return value


def require_clock(value: T, name: str = "clock") -> T:
    """Return ``value`` if it has the ``time`` and ``monotonic`` methods of a clock.

    Raises:
        ConfigurationError: It lacks one of them.
    """
    if not (callable(getattr(value, "time", None))):
        raise invalid_type(name, "a clock with time() and monotonic()", value)
    if not callable(getattr(value, "monotonic", None)):
        raise invalid_type(name, "a clock with time() and monotonic()", value)
    return value


def reject_copy(value: object, operation: str, instead: str) -> ConfigurationError:
    """Build the error for pickling or copying an object that contains a secret.

    Args:
        value: The object that must not be copied.
        operation: ``"pickled"``, ``"copied"`` or ``"deep-copied"``.
        instead: What to do instead.
    """
    return ConfigurationError(
        f"{type(value).__name__} cannot be {operation}, because the copy would "
        f"contain its private key or token: {instead}"
    )


def _names(classes: tuple[type, ...]) -> str:
    return " or ".join(cls.__qualname__ for cls in classes)
