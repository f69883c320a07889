"""The dashboard API's identity: Clerk session tokens, workspaces from organizations, roles."""
