"""Copies held by public web archives: Wayback/Memento lookups, and storing the copy found.

Imports fetching, storage and judging; never showing.
"""
