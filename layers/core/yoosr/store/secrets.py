"""Secrets from Secrets Manager and SecureString parameters from SSM, through Powertools
parameters, cached per process."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider

from yoosr.store import aws


@cache
def _provider() -> SecretsProvider:
    return SecretsProvider(boto3_client=aws.client("secretsmanager"))


def get_secret(secret_id: str, max_age: int) -> str:
    value = _provider().get(secret_id, max_age=max_age)
    if not isinstance(value, str) or not value:
        raise RuntimeError("secret is empty or not a string")
    return value


@cache
def _ssm() -> SSMProvider:
    return SSMProvider(boto3_client=aws.client("ssm"))


def get_secure_parameter(name: str, max_age: int) -> str:
    """A SecureString parameter, decrypted, cached for `max_age` seconds."""
    value = _ssm().get(name, decrypt=True, max_age=max_age)
    if not isinstance(value, str) or not value:
        raise RuntimeError("parameter is empty or not a string")
    return value
