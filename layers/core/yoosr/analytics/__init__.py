"""Analytics: metric increments from conversation events, rollups per workspace and local
day/hour, and the dashboard figures read from them. The formulas (events, inputs, rollup,
reports, ranges, csv, history, histogram, series) are pure: no boto3, no environment, no clock
(times and time zones come in as arguments). consumer, service and backfill are the use cases
that read and write through yoosr.store. Definitions: docs/metrics.md."""
