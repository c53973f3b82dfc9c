"""``blog openapi``: the native API's OpenAPI document, for client generators."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from blog.cli.common import DatabaseUrl, load_settings


def openapi(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write it here (default: stdout).")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print the OpenAPI document the server serves at /openapi.json, without serving.

    Example: blog openapi -o client/openapi.json
    """
    from blog.app import create_app

    # The app as the server builds it, but nothing is opened: its engine connects only when
    # used (never here), and the job queue (a file by default) is left in memory.
    settings = load_settings(database_url).model_copy(update={"jobs_url": "memory://"})
    app = create_app(settings)
    text = json.dumps(app.openapi(), indent=2) + "\n"
    app.state.background.close(1)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
