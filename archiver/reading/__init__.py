"""A report file to its footnotes and re-fanged links: pure text work.

Imports no other stage (only archiver.errors).
"""
