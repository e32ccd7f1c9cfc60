"""The web side: the debtor's page (`relance web`), thin over the core like the desk.

A sibling of `tui`: it imports the core and the channels, and nothing below it imports it.
"""
