"""Workspace administration use cases: settings, the identity secret and widget keys."""
