"""Benchmarks: cold start and DynamoDB cost (python bench/run.py)."""
