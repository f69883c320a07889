"""Pydantic models: API input and output, stored settings, events."""
