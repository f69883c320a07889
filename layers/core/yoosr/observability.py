"""Powertools logger, metrics and tracer, one of each per process.

Logs carry ids, routes, statuses and counts; never message text or personal data.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()
tracer = Tracer()

# Read-only requests publish no business metric; that is expected, not worth a warning a call.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def count(name: str, value: int = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
