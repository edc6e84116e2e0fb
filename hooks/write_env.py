"""Copy-time task: write .env from .env.example with a freshly generated database password.

Runs in the new project's directory. Never overwrites an existing .env, so secrets stay the user's.
"""

import os
import secrets
import sys
from pathlib import Path

PLACEHOLDER = "change-me"


def main() -> int:
    env_file = Path(".env")
    example = Path(".env.example")
    if env_file.exists():
        print(".env exists already; left untouched")
        return 0
    if not example.exists():
        print(".env.example is missing: cannot write .env", file=sys.stderr)
        return 1
    password = secrets.token_urlsafe(24)  # URL-safe, so it can sit inside DATABASE_URL unquoted
    # Created private: a write then chmod would leave the password readable to all in between.
    descriptor = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(example.read_text().replace(PLACEHOLDER, password))
    print("wrote .env with a generated POSTGRES_PASSWORD")
    return 0


if __name__ == "__main__":
    sys.exit(main())
