"""The team: departments, agents and presence, labels, canned responses."""
