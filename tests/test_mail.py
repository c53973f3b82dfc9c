"""Mail: rendering, links, delivery through a real SMTP server, retries, the background
queue, and sending only after the change that wrote the letter has committed."""

import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import get_args
from urllib.parse import parse_qs, urlsplit

import jinja2
import jinja2.meta
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from blog.background import BackgroundWork, Job
from blog.database import SessionDep, new_session
from blog.dependencies import BackgroundDep, MailerDep
from blog.mail import CONTEXT_KEYS, Letter, Mailer, TemplateName, frontend_link, send_after_commit
from blog.mail.letters import templates
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.testing.mail import MailServer, html_of, link_in, text_of, token_in

TOKEN = "tok+en/with=odd&chars"  # what must never reach a log (but the console mail)
TEMPLATE_DIR = Path(__file__).parents[1] / "blog" / "mail" / "templates"


def letter(
    template: TemplateName = "verify_email", to: str = "ada@example.com", **context: str
) -> Letter:
    """A letter with every key its template needs (``context`` overrides them)."""
    defaults = {
        "blog_name": "Acme",
        "username": "ada",
        "link": frontend_link(
            "http://front.example/{tenant}", tenant_slug="acme", action="verify-email", token=TOKEN
        ),
        "expires_minutes": "30",
        "new_email": "ada@new.example",
    }
    needed = {key: defaults[key] for key in CONTEXT_KEYS[template]}
    return Letter(tenant_id=uuid.uuid4(), to=to, template=template, context=needed | context)


@pytest.fixture
def background() -> Iterator[BackgroundWork]:
    work = BackgroundWork(retry_delay_seconds=0.01)
    yield work
    work.close(5)


@pytest.fixture
def mailer(settings: Settings, mail_server: MailServer, background: BackgroundWork) -> Mailer:
    """A mailer sending to ``mail_server``."""
    return Mailer(mail_server.settings_for(settings), background)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="blog")
    return caplog


def lines_with(logs: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [record for record in logs.records if text in record.getMessage()]


# Rendering and links


def test_smtp_delivers_subject_from_to_and_both_parts(
    mailer: Mailer, mail_server: MailServer
) -> None:
    assert mailer.submit(letter(blog_name="Acme"))

    (message,) = mail_server.wait_for("ada@example.com")
    assert message["From"] == "blog <no-reply@localhost>"
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Confirm your email address for Acme"
    assert message.get_content_type() == "multipart/alternative"
    assert "Acme" in text_of(message)
    assert "Acme" in html_of(message)
    assert token_in(message) == TOKEN
    assert link_in(message) in html_of(message).replace("&amp;", "&")


def test_html_escapes_the_blog_name_and_text_keeps_it(
    mailer: Mailer, mail_server: MailServer
) -> None:
    mailer.submit(letter(blog_name="<Acme & Co>"))

    (message,) = mail_server.wait_for("ada@example.com")
    assert "<Acme & Co>" in message["Subject"]
    assert "<Acme & Co>" in text_of(message)
    assert "&lt;Acme &amp; Co&gt;" in html_of(message)
    assert "<Acme" not in html_of(message)


def test_smtp_logs_in_when_given_credentials(
    settings: Settings, background: BackgroundWork
) -> None:
    server = MailServer(credentials=("mailer", "s3cret"))
    server.start()
    try:
        Mailer(server.settings_for(settings), background).submit(letter())

        server.wait_for("ada@example.com")
        assert server.logins == ["mailer"]
    finally:
        server.stop()


@pytest.mark.parametrize("template", get_args(TemplateName))
def test_each_template_uses_exactly_its_documented_context(template: TemplateName) -> None:
    assert (TEMPLATE_DIR / f"{template}.html").is_file()
    source = (TEMPLATE_DIR / f"{template}.txt").read_text()
    assert jinja2.meta.find_undeclared_variables(templates.parse(source)) == CONTEXT_KEYS[template]

    mailer = Mailer(Settings(_env_file=None), BackgroundWork())
    job = mailer.delivery(letter(template, blog_name="Acme"))  # renders both parts
    assert job.name == f"mail:{template}"


def test_missing_context_key_is_an_error_not_a_blank(mailer: Mailer) -> None:
    incomplete = letter()
    without_link = {k: v for k, v in incomplete.context.items() if k != "link"}

    with pytest.raises(jinja2.UndefinedError, match="link"):
        mailer.submit(Letter(incomplete.tenant_id, incomplete.to, "verify_email", without_link))
    assert mailer.background.outstanding == 0


def test_unknown_template_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown mail template"):
        Letter(uuid.uuid4(), "a@example.com", "welcome", {"blog_name": "x"})  # type: ignore[arg-type]


def test_frontend_link_puts_the_slug_in_and_encodes_the_token() -> None:
    link = frontend_link(
        "https://app.example/{tenant}/", tenant_slug="acme", action="reset-password", token=TOKEN
    )

    assert link.startswith("https://app.example/acme/reset-password?token=")
    assert "+" not in link
    assert "&chars" not in link
    assert parse_qs(urlsplit(link).query) == {"token": [TOKEN]}


def test_frontend_link_of_a_blog_with_its_own_url() -> None:
    link = frontend_link(
        "https://acme.example", tenant_slug="acme", action="confirm-email", token="t"
    )

    assert link == "https://acme.example/confirm-email?token=t"


# Console backend and what the logs may hold


def test_console_backend_logs_the_message_and_nothing_else_logs_the_token(
    settings: Settings, background: BackgroundWork, logs: pytest.LogCaptureFixture
) -> None:
    console = Mailer(settings.model_copy(update={"mail_backend": "console"}), background)

    console.submit(letter(template="reset_password"))
    assert background.drain(5)

    (mail,) = [r for r in logs.records if r.name == "blog.mail"]
    assert "To: ada@example.com" in mail.getMessage()
    assert "Subject: Reset your password for Acme" in mail.getMessage()
    assert "tok%2Ben%2Fwith%3Dodd%26chars" in mail.getMessage()
    assert [r for r in logs.records if "tok" in r.getMessage() and r is not mail] == []


def test_console_mail_shows_a_long_link_whole_for_copying(
    settings: Settings, background: BackgroundWork, logs: pytest.LogCaptureFixture
) -> None:
    """Decoded text, not the wire format: quoted-printable would cut the link with ``=``."""
    console = Mailer(settings.model_copy(update={"mail_backend": "console"}), background)
    long_link = "https://acme.example/reset-password?token=" + "x" * 120

    console.submit(letter(template="reset_password", link=long_link))
    assert background.drain(5)

    (mail,) = [r for r in logs.records if r.name == "blog.mail"]
    assert long_link in mail.getMessage()
    assert "<html" not in mail.getMessage()


def test_transient_smtp_failure_is_retried(
    mailer: Mailer, mail_server: MailServer, logs: pytest.LogCaptureFixture
) -> None:
    mail_server.refuse(1)
    sent = letter()

    mailer.submit(sent)

    (message,) = mail_server.wait_for("ada@example.com")
    assert token_in(message) == TOKEN
    (retry,) = lines_with(logs, "retrying")
    assert "mail:verify_email" in retry.getMessage()
    assert str(sent.tenant_id) in retry.getMessage()


def test_final_failure_is_logged_without_the_message(
    mailer: Mailer, mail_server: MailServer, logs: pytest.LogCaptureFixture
) -> None:
    mail_server.refuse(10)
    sent = letter()

    mailer.submit(sent)
    assert mailer.background.drain(5)

    (failure,) = [r for r in logs.records if r.levelno == logging.ERROR]
    assert "mail:verify_email" in failure.getMessage()
    assert str(sent.tenant_id) in failure.getMessage()
    assert "3 attempts" in failure.getMessage()
    assert len(lines_with(logs, "retrying")) == 2
    for text in ("tok", "front.example", "ada@example.com", "Hello ada"):
        assert lines_with(logs, text) == []
    assert mail_server.received == []


# The background queue


def waiting_for(event: threading.Event) -> Callable[[], None]:
    def wait() -> None:
        event.wait(5)

    return wait


def test_full_queue_refuses_without_blocking(logs: pytest.LogCaptureFixture) -> None:
    work = BackgroundWork(max_size=1)
    release = threading.Event()
    tenant_id = uuid.uuid4()
    try:
        assert work.submit(Job("slow", tenant_id, waiting_for(release)))

        started = time.monotonic()
        assert not work.submit(Job("mail:verify_email", tenant_id, lambda: None))
        assert time.monotonic() - started < 0.5

        (warning,) = lines_with(logs, "queue full")
        assert warning.levelno == logging.WARNING
        assert "mail:verify_email" in warning.getMessage()
        assert str(tenant_id) in warning.getMessage()
    finally:
        release.set()
        assert work.close(5)


def test_a_job_waiting_to_retry_does_not_hold_up_the_next() -> None:
    work = BackgroundWork(retry_delay_seconds=0.5)
    runs: list[str] = []

    def flaky() -> None:
        runs.append("flaky")
        if runs.count("flaky") == 1:
            raise OSError("down")

    work.submit(Job("flaky", None, flaky))
    work.submit(Job("next", None, lambda: runs.append("next")))

    assert work.drain(5)
    assert runs == ["flaky", "next", "flaky"]
    work.close(1)


def test_a_failing_job_s_error_message_is_not_logged(logs: pytest.LogCaptureFixture) -> None:
    def leaky() -> None:
        raise ValueError(f"could not send {TOKEN}")

    work = BackgroundWork(retry_delay_seconds=0)
    work.submit(Job("leaky", None, leaky, attempts=2))

    assert work.drain(5)
    assert [r.levelname for r in lines_with(logs, "leaky")] == ["WARNING", "ERROR"]
    assert "ValueError" in lines_with(logs, "giving up")[0].getMessage()
    assert lines_with(logs, "tok") == []
    work.close(1)


def test_drain_says_when_work_is_left(logs: pytest.LogCaptureFixture) -> None:
    work = BackgroundWork()
    release = threading.Event()
    work.submit(Job("slow", None, waiting_for(release)))
    work.submit(Job("queued", None, lambda: None))

    assert not work.drain(0.05)
    release.set()
    assert work.drain(5)
    assert work.outstanding == 0
    work.close(1)


def test_close_stops_the_worker_and_a_later_submit_starts_one() -> None:
    work = BackgroundWork()
    ran = threading.Event()
    work.submit(Job("first", None, lambda: None))
    assert work.close(5)
    assert not any(t.name == "blog-background" and t.is_alive() for t in _workers_of(work))

    assert work.submit(Job("again", None, ran.set))
    assert ran.wait(5)
    work.close(5)


def _workers_of(work: BackgroundWork) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t is getattr(work, "_worker", None)]


# After commit


def tenant_named(engine: Engine, slug: str) -> Tenant | None:
    with new_session(engine) as session:
        return session.exec(select(Tenant).where(Tenant.slug == slug)).first()


def test_letter_of_a_committed_change_is_sent(
    engine: Engine, mailer: Mailer, mail_server: MailServer
) -> None:
    with new_session(engine) as session:
        session.add(Tenant(slug="acme", name="Acme"))
        send_after_commit(session, mailer, letter())
        session.flush()
        assert mailer.background.outstanding == 0  # not before the commit

        session.commit()

    mail_server.wait_for("ada@example.com")
    assert tenant_named(engine, "acme") is not None


def test_letter_of_a_rolled_back_change_is_never_sent(
    engine: Engine, mailer: Mailer, mail_server: MailServer
) -> None:
    with new_session(engine) as session:
        session.add(Tenant(slug="acme", name="Acme"))
        session.flush()
        send_after_commit(session, mailer, letter())
        session.rollback()
        session.commit()  # a later commit of the same session must not send it either

    with new_session(engine) as session:
        send_after_commit(session, mailer, letter(to="closed@example.com"))
    # closed without a commit

    assert mailer.background.drain(5)
    assert mail_server.received == []
    assert tenant_named(engine, "acme") is None


def test_letter_written_in_a_rolled_back_savepoint_is_dropped_alone(
    engine: Engine, mailer: Mailer, mail_server: MailServer
) -> None:
    with new_session(engine) as session:
        send_after_commit(session, mailer, letter(to="before@example.com"))
        with pytest.raises(RuntimeError):
            write_in_failing_savepoint(session, mailer)
        with session.begin_nested():
            send_after_commit(session, mailer, letter(to="released@example.com"))
        assert mailer.background.outstanding == 0  # a released savepoint is not a commit
        session.add(Tenant(slug="outer", name="Outer"))
        session.commit()

    mail_server.wait_for("before@example.com")
    mail_server.wait_for("released@example.com")
    assert mailer.background.drain(5)
    assert mail_server.messages_to("inside@example.com") == []


def write_in_failing_savepoint(session: Session, mailer: Mailer) -> None:
    with session.begin_nested():
        session.add(Tenant(slug="inner", name="Inner"))
        send_after_commit(session, mailer, letter(to="inside@example.com"))
        raise RuntimeError("the savepoint fails")


def test_a_dead_mail_server_does_not_slow_the_commit(
    engine: Engine, settings: Settings, background: BackgroundWork, logs: pytest.LogCaptureFixture
) -> None:
    # Accepts connections (the kernel does) but never says a word: a hung server.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        hung = settings.model_copy(
            update={
                "mail_backend": "smtp",
                "smtp_host": "127.0.0.1",
                "smtp_port": silent.getsockname()[1],
                "smtp_security": "none",
                "smtp_timeout_seconds": 0.2,
            }
        )
        mailer = Mailer(hung, background)

        with new_session(engine) as session:
            session.add(Tenant(slug="acme", name="Acme"))
            send_after_commit(session, mailer, letter())
            started = time.monotonic()
            session.commit()
            assert time.monotonic() - started < 0.5

        assert tenant_named(engine, "acme") is not None
        assert background.drain(10)
    (failure,) = [r for r in logs.records if r.levelno == logging.ERROR]
    assert "mail:verify_email" in failure.getMessage()


# In the app


@pytest.fixture
def mail_app(app: FastAPI) -> FastAPI:
    """The app with one route that writes a letter in the request's unit of work."""

    @app.post("/test-mail/{to}")
    def write_letter(
        to: str, session: SessionDep, mailer: MailerDep, background: BackgroundDep
    ) -> dict[str, bool]:
        send_after_commit(session, mailer, letter(to=to))
        return {"same_queue": background is mailer.background}

    return app


def test_a_request_that_only_writes_a_letter_still_commits_and_sends(
    mail_app: FastAPI, mail_server: MailServer, settings: Settings
) -> None:
    mail_app.state.mailer = Mailer(mail_server.settings_for(settings), mail_app.state.background)

    with TestClient(mail_app) as client:
        response = client.post("/test-mail/ada@example.com")
        assert response.json() == {"same_queue": True}

        (message,) = mail_server.wait_for("ada@example.com")
    assert token_in(message) == TOKEN


def test_shutdown_finishes_queued_work_before_the_engine_goes(app: FastAPI) -> None:
    finished = threading.Event()

    def slow() -> None:
        time.sleep(0.2)
        finished.set()

    with TestClient(app):
        app.state.background.submit(Job("slow", None, slow))

    assert finished.is_set()
