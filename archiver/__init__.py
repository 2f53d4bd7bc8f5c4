"""archiver: keep the web sources cited in research reports' footnotes alive."""

__version__ = "0.1.0"
