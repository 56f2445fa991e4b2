"""The bottom storage layer: SQL tables and types, lifecycle state graphs, records, the database
engine helpers, the Alembic migrations (package data) and the lifecycle store.

Invariant: this package imports only ``relayer.protocol``, ``relayer.config`` and the error root
below it; the write sides (``relayer.pipeline``, ``relayer.l1.txmanager``, ``indexer.ingest``) and the
read side (``indexer.api``, ``indexer.api.explorer``) sit above it (``.importlinter``: layers).
"""
