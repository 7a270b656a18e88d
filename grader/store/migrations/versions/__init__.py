"""Alembic revision scripts of the gradebook (loaded by Alembic, not imported)."""
