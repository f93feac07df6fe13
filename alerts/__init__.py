"""geomon alerts: the watch list, pure alert rules, the alert agent's sinks and the tail command."""
