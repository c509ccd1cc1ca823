"""Vector store search `filters`: a ComparisonFilter or CompoundFilter evaluated on a file's
attributes, with OpenAI's semantics."""

from __future__ import annotations

from typing import Any


def matches(filters: dict[str, Any], attributes: dict[str, Any]) -> bool:
    """Whether attributes pass a ComparisonFilter or CompoundFilter (OpenAI's semantics: a
    missing key fails every comparison)."""
    kind = filters.get("type")
    if kind in ("and", "or"):
        results = (matches(item, attributes) for item in filters.get("filters", []))
        return all(results) if kind == "and" else any(results)
    key, value = filters.get("key"), filters.get("value")
    if key not in attributes:
        return False
    actual = attributes[key]
    if kind == "eq":
        return bool(actual == value)
    if kind == "ne":
        return bool(actual != value)
    if kind in ("in", "nin"):
        inside = isinstance(value, list) and actual in value
        return inside if kind == "in" else not inside
    if isinstance(actual, bool) or isinstance(value, bool):
        return False  # booleans are not ordered
    both_numbers = isinstance(actual, int | float) and isinstance(value, int | float)
    both_strings = isinstance(actual, str) and isinstance(value, str)
    if not (both_numbers or both_strings):
        return False
    comparisons: dict[str, bool] = {
        "gt": actual > value,
        "gte": actual >= value,
        "lt": actual < value,
        "lte": actual <= value,
    }
    return comparisons.get(str(kind), False)
