"""`relance demo`: a fresh workspace with a realistic portfolio, built in ordered steps."""

from relance.demo.steps import (
    DEFAULT_DIRECTORY,
    STEPS,
    DemoContext,
    DemoStep,
    insert_step,
    run_demo,
)

__all__ = ["DEFAULT_DIRECTORY", "STEPS", "DemoContext", "DemoStep", "insert_step", "run_demo"]
