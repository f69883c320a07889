"""Data access: one module per table, queue or bucket. The only package that imports boto3."""
