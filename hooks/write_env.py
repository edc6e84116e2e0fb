"""Copy-time task: write .env from .env.example with a freshly generated database password.

Runs in the new project's directory. Never overwrites an existing .env, so secrets stay the user's.
"""

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
    env_file.write_text(example.read_text().replace(PLACEHOLDER, password))
    env_file.chmod(0o600)
    print("wrote .env with a generated POSTGRES_PASSWORD")
    return 0


if __name__ == "__main__":
    sys.exit(main())
