"""What lasts: the catalog (the only SQL), WARC files, texts, report copies, the lock, the storage thread.

Imports archiver.outcomes and errors; never fetching's client, judging or showing.
"""
