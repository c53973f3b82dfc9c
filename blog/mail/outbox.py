"""Mail that leaves only once the change that wrote it has committed.

:func:`send_after_commit` keeps a rendered letter in the session; hooks on every session
queue it for delivery after the outermost commit and drop it when its transaction (or
the savepoint it was written in) rolls back. So a rolled-back change never mails, and a
mail server never holds up or undoes a commit.
"""

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction

from blog.background import BackgroundWork, Job
from blog.database import PENDING_MAIL
from blog.mail.letters import Letter
from blog.mail.mailer import Mailer

OUTBOX = PENDING_MAIL


@dataclass(frozen=True)
class _Pending:
    background: BackgroundWork
    job: Job
    savepoint: SessionTransaction | None  # the innermost savepoint it was written in


def send_after_commit(session: OrmSession, mailer: Mailer, letter: Letter) -> None:
    """Deliver ``letter`` after ``session``'s transaction commits; never if it rolls back.

    Rendered now, so a letter that cannot be rendered fails the change with it.
    """
    if not session.in_transaction():
        session.begin()  # so that its end, commit or not, is seen
    pending: list[_Pending] = session.info.setdefault(OUTBOX, [])
    pending.append(
        _Pending(mailer.background, mailer.delivery(letter), session.get_nested_transaction())
    )


@sa.event.listens_for(OrmSession, "after_commit")
def _send_pending(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its letters wait for the outer commit
    for pending in session.info.pop(OUTBOX, ()):
        pending.background.submit(pending.job)


@sa.event.listens_for(OrmSession, "after_soft_rollback")
def _drop_rolled_back(session: OrmSession, previous_transaction: SessionTransaction) -> None:
    pending: list[_Pending] | None = session.info.get(OUTBOX)
    if not pending:
        return
    # What was rolled back in the database: the innermost savepoint or the transaction
    # around ``previous_transaction`` (a failed flush's, say).
    rolled_back = previous_transaction
    while not rolled_back.nested and rolled_back.parent is not None:
        rolled_back = rolled_back.parent
    if rolled_back.parent is None:
        del session.info[OUTBOX]
    else:
        session.info[OUTBOX] = [p for p in pending if not _inside(p.savepoint, rolled_back)]


@sa.event.listens_for(OrmSession, "after_transaction_end")
def _drop_unsent(session: OrmSession, transaction: SessionTransaction) -> None:
    # The outermost transaction ended without a commit (closed, say): nothing to send.
    if transaction.parent is None:
        session.info.pop(OUTBOX, None)


def _inside(savepoint: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while savepoint is not None:
        if savepoint is outer:
            return True
        savepoint = savepoint.parent
    return False
