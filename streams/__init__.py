"""geomon streams: settings, records, topics, the pure coder and the Faust wiring around it."""

__version__ = "0.1.0"
