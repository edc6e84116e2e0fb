"""Development tools of this project: `uv run dev`, and the servers it and the tests start.

A uv workspace member in the dev group: never part of the service's wheel or image.
"""
