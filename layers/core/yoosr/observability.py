"""Powertools logger, metrics and tracer, one of each per process.

Logs carry ids, routes, statuses and counts; never message text or personal data.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
tracer = Tracer()
