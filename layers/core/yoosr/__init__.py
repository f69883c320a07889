"""Yoosr core: models, domain logic, data access and HTTP glue shared by every function."""
