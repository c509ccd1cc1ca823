"""How the API's objects are declared and built: each object is a table of its fields in the
order the API writes them (`RUN_FIELDS`, `ASSISTANT_FIELDS`, ...), every field either a
`Setting` (the caller's, with its rule for a new object) or `WRITTEN` (the engine's own: ids,
times, statuses, what it derives from the request). `new_object` builds one from the table."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """A field the caller sets: on a new object, the request's value, else (when
    `from_assistant`, for a run) the assistant's, else `default` (a copy). A null on modify
    resets it to `default` too."""

    default: Any = None
    from_assistant: bool = False

    def value(
        self, name: str, request: dict[str, Any], assistant: dict[str, Any] | None = None
    ) -> Any:
        found = request.get(name)
        if found is None and self.from_assistant and assistant is not None:
            found = assistant.get(name)
        return self.reset() if found is None else found

    def reset(self) -> Any:
        """The field's value when the caller gives none (or clears it with a null)."""
        return copy.deepcopy(self.default)


# A field the engine writes (ids, times, status, errors, usage, what it derives from the
# request): None on a new object unless the service gives it.
WRITTEN = None

Fields = dict[str, Setting | None]


def new_object(
    fields: Fields,
    request: dict[str, Any],
    written: dict[str, Any],
    assistant: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A new object with every field of `fields`, in its order: each setting by its rule from
    the `request`, each written field from `written` (else None)."""
    return {
        name: written.get(name) if setting is None else setting.value(name, request, assistant)
        for name, setting in fields.items()
    }


def modified(fields: Fields, body: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of `body` with the caller's `changes`: a null resets a setting to its default."""
    out = dict(body)
    for name, value in changes.items():
        setting = fields[name]
        out[name] = setting.reset() if value is None and setting is not None else value
    return out
