"""Pure domain logic: no boto3, no event shapes, no environment reads."""
