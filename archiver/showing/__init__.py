"""What people and scripts see: status and check rendering, exports, the dashboard, the annotated report.

Imports storage, judging and reading; never fetching's client.
"""
