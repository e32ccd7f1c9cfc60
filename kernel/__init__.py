"""What every layer shares: errors, money, dates, the workspace and its settings.

The kernel imports nothing of relance but itself, so the language, the store, the
engine, the channels and the interfaces can all lean on it."""
