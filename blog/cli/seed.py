"""``blog seed``: realistic fake blogs in bulk."""

from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from blog.app import build_auth_config
from blog.cli.common import DatabaseUrl, console, database, err_console, load_settings
from blog.seeding import SEED_PASSWORD, SeedPlan, SeedProgress, seed


class _Bars(SeedProgress):
    """One rich progress bar per table, with its rate in rows/s."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def start(self, table: str, total: int | None) -> None:
        if table in self.tasks:
            self.progress.reset(self.tasks[table], total=total)
        else:
            self.tasks[table] = self.progress.add_task(table, total=total, rate="")

    def advance(self, table: str, rows: int) -> None:
        if table in self.tasks:
            task_id = self.tasks[table]
            self.progress.advance(task_id, rows)
            speed = self.progress.tasks[task_id].speed or 0
            self.progress.update(task_id, rate=f"{speed:>10,.0f} rows/s")


def seed_command(
    tenants: Annotated[int, typer.Option(min=1, help="Blogs to create.")] = 1,
    users_per_tenant: Annotated[int, typer.Option(min=1, help="Accounts per blog.")] = 10,
    posts_per_user: Annotated[int, typer.Option(min=0, help="Posts per account.")] = 10,
    comments_per_post: Annotated[int, typer.Option(min=0, help="Comments per post.")] = 0,
    tags: Annotated[int, typer.Option(min=0, max=300, help="Tags per blog.")] = 20,
    seed_value: Annotated[
        int, typer.Option("--seed", help="Same seed, same data; names the blogs seed-SEED-N.")
    ] = 0,
    database_url: DatabaseUrl = None,
) -> None:
    """Fill the database with realistic fake blogs: fast, deterministic, safe to rerun.

    Blogs that already exist (same --seed) are skipped; each blog is written in one
    transaction, so Ctrl-C never leaves half a blog. Every account's password is
    "seeded-password".

    Example: blog seed --tenants 3 --users-per-tenant 50 --posts-per-user 20 --comments-per-post 2
    """
    settings = load_settings(database_url)
    plan = SeedPlan(
        tenants=tenants,
        users_per_tenant=users_per_tenant,
        posts_per_user=posts_per_user,
        comments_per_post=comments_per_post,
        tags=tags,
        seed=seed_value,
    )
    columns = (
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with database(settings.database_url) as engine, Progress(*columns, console=console) as bars:

        def tenant_done(slug: str, created: bool) -> None:
            bars.console.print(f"{slug}: {'created' if created else 'exists, skipped'}")

        try:
            report = seed(
                engine,
                plan,
                hasher=build_auth_config(settings).hasher,
                progress=_Bars(bars),
                on_tenant=tenant_done,
            )
        except KeyboardInterrupt:
            err_console.print(
                "Interrupted: the blog being written was rolled back; finished blogs are kept. "
                "Run the same command again to continue."
            )
            raise typer.Exit(130) from None
    counts = ", ".join(f"{rows:,} {table}" for table, rows in report.rows.items())
    console.print(
        f"Created {len(report.created)} blog(s), skipped {len(report.skipped)}"
        + (f": {counts}." if counts else ".")
        + f" Log in as any seeded user with the password {SEED_PASSWORD!r}."
    )
