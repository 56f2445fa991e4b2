"""Lifecycle indexer: SQL schema, ingestion, read-only query API."""
