"""Human routing: handoff, automatic assignment (queue + strategies), the agents' inbox and the
scheduled sweep. `strategy`, `transitions` and `notices` are pure; the rest are use cases."""
