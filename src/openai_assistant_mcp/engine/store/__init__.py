"""Persistent store: SQLAlchemy Core tables, transactions, and all of the engine's SQL."""
