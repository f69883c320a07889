"""Privacy requests, pure core: the request lifecycle, one-time codes, audit events, the store
registry, the export package and the job plan. No boto3, no environment, no clock reads: every
function takes the time and the secrets it needs. docs/privacy.md describes the rules."""
