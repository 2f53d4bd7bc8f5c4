"""The only network code: URLs to Fetch values (httpx), the address guard, politeness and retries.

Imports reading (URL forms) and archiver.outcomes; never storage, judging or showing.
"""
