"""``blog worker``: run the jobs of every blog (scheduled posts, webhook deliveries)."""

from typing import Annotated

import typer

from blog.cli.common import DatabaseUrl, clean_errors, console, database, fail, load_settings


def worker(
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Threads running jobs (default: BLOG_JOBS_WORKERS)."),
    ] = None,
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Run every job that is due now, then exit (for cron or a script)."
        ),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Run background jobs until stopped (Ctrl-C finishes the jobs under way).

    Jobs are rows of the database; BLOG_JOBS_URL is where their announcements travel
    (sqlite:///FILE by default, redis://… in production). Start as many workers as you
    like: a job is never run by two at once.

    Example: blog worker --workers 4
    """
    from blog.jobs.queue import JobQueue, JobsUrlError, attach_queue
    from blog.jobs.runner import Runner
    from blog.observability.logs import configure_logging

    settings = load_settings(database_url)
    configure_logging(settings)
    with clean_errors(), database(settings.database_url) as engine:
        runner = Runner(engine, settings)
        if once:
            console.print(f"Ran {runner.run_due()} jobs.")
            return
        try:
            queue = JobQueue(
                settings.jobs_url,
                name=settings.jobs_queue,
                run_job=runner.run,
                sweep=lambda: runner.sweep(queue),
            )
            queue.huey.storage.enqueued_items(1)  # reach the queue now, not in a loop later
        except JobsUrlError as exc:
            fail(str(exc))
        except Exception as exc:  # the queue's own errors (Redis down, a file not writable)
            fail(f"cannot reach the job queue at BLOG_JOBS_URL: {type(exc).__name__}: {exc}")
        attach_queue(engine, queue)
        runner.sweep(queue)  # what was due while no worker ran
        console.print(f"Worker running jobs from {settings.jobs_url} (Ctrl-C to stop).")
        queue.consumer(workers=workers or settings.jobs_workers).run()
