"""Docker-free local stack: moto for AWS, template.yaml for resources, routes and triggers.

Run it with `python -m local` (what `make dev` runs). Tests use `local.template` and
`local.resources` directly.
"""
