"""``python -m blog``: the same as the ``blog`` command."""

from blog.cli import app

app()
