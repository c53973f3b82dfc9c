"""Exit 0 when the PostgreSQL server at the given URL answers, 1 (saying why) when not.

Used by CI, which must fail, not skip, when PostgreSQL is unreachable:
``python scripts/check_postgres.py postgresql://postgres@127.0.0.1:5432/test``
"""

import sys
import time

import psycopg

ATTEMPTS = 10
PAUSE_SECONDS = 1.0


def main(url: str) -> int:
    error: Exception | None = None
    for _ in range(ATTEMPTS):
        try:
            with psycopg.connect(url, connect_timeout=3) as connection:
                version = connection.execute("SHOW server_version").fetchone()
            print(f"PostgreSQL {version[0] if version else '?'} reachable at {url}")
            return 0
        except psycopg.OperationalError as exc:
            error = exc
            time.sleep(PAUSE_SECONDS)
    print(f"PostgreSQL unreachable at {url}: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
