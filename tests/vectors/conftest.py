"""Fixtures for the modules here: fresh databases already at the migrations' head."""

from __future__ import annotations

from tests.support.migrated import migrated_database_url

__all__ = ["migrated_database_url"]  # the fixture, for the modules here
