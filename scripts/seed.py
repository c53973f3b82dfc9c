"""``python scripts/seed.py --tenants 2 ...``: the same as ``blog seed``."""

import typer

from blog.cli.seed import seed_command

if __name__ == "__main__":
    typer.run(seed_command)
