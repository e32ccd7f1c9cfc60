"""`python -m relance`: the same command line as the `relance` script, for when the
script is not on PATH (a venv not activated, Windows)."""

from relance.cli import main

if __name__ == "__main__":
    main()
