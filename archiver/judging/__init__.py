"""Bodies to texts and verdicts: extraction (in worker processes), page signs, comparison, verdicts.

Imports storage (texts) and archiver.outcomes; never fetching.
"""
