"""Print the CI job matrix (one entry per shard, tests/sharding.py) as JSON, for the workflow's
`fromJSON`: `uv run python -m tests.matrix`."""

import json

from .sharding import matrix

if __name__ == "__main__":
    print(json.dumps({"include": matrix()}))
