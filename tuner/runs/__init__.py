"""Runs as data: listing and its index, aggregation into frames, queries, ranking, records, management."""
