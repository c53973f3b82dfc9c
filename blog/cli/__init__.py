"""The ``blog`` command: serve the API, migrate, and administer tenants and users."""

import typer

from blog.cli import db, keys, openapi, seed, server, tenants, transfer, users, worker
from blog.cli.common import alembic_config

app = typer.Typer(
    help="Run and administer the blog platform. Every command takes --help.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(tenants.app, name="tenants")
app.add_typer(users.app, name="users")
app.add_typer(keys.app, name="keys")
app.command("export")(transfer.export)
app.command("import")(transfer.import_)
app.command()(server.serve)
app.command()(server.demo)
app.command("seed")(seed.seed_command)
app.command()(worker.worker)
app.command()(openapi.openapi)

__all__ = ["alembic_config", "app"]
