"""Hostile input: a corpus of attacks on every file relance reads and writes (tests/hostile)."""
