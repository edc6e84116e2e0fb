"""Migration to 0.2.0, before the update: the question `use_redis` is now `use_cache`.

Renames the key in the answers file so the user's choice carries over instead of falling back to
the new question's default. Line-based, so comments and formatting in the file stay as they are.
"""

import re
import sys
from pathlib import Path


def main(answers_file: str) -> int:
    path = Path(answers_file)
    text = path.read_text()
    renamed = re.sub(r"^use_redis:", "use_cache:", text, flags=re.MULTILINE)
    if renamed != text:
        path.write_text(renamed)
        print(f"{answers_file}: renamed answer use_redis -> use_cache")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
