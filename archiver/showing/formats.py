"""The export formats `archiver export --format` offers (a name list the command line reads without loading them)."""

FORMATS = ("jsonl", "csv", "md", "warc", "report", "wacz")
