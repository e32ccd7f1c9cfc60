"""The standing fault campaign: `python -m bench.faults` (see docs/reliability.md).

Real dispatchers are SIGKILLed, hostile servers misbehave, several dispatchers share one
queue, the database restarts under a dispatch; then a pure checker compares what the
store says with what the loopback servers and the print batches actually received.
"""
