"""The commits measured: the working tree's, and a baseline checked out beside it.

The baseline is a ``git worktree`` in a temporary directory, removed at the end (also
on Ctrl-C or SIGTERM, which the CLI turns into SystemExit), so its ``blog`` package can
be served beside the head's with the same virtualenv.
"""

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class GitError(Exception):
    """A git command failed; the message is git's."""


def git(*arguments: str, cwd: Path = ROOT) -> str:
    """Run git; its stdout, stripped. Raises :class:`GitError` on failure."""
    done = subprocess.run(  # noqa: S603 - fixed git arguments
        ["git", *arguments],  # noqa: S607 - git from PATH, like make
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise GitError(done.stderr.strip() or f"git {' '.join(arguments)} failed")
    return done.stdout.strip()


def git_info() -> dict[str, Any]:
    """The commit measured, and whether the working tree differed from it."""
    try:
        return {"sha": git("rev-parse", "--short", "HEAD"), "dirty": bool(git("status", "-s"))}
    except (GitError, OSError):
        return {"sha": "unknown", "dirty": None}


def code_fingerprint() -> str:
    """A hash of the code under test: a shared working tree can change during a run."""
    digest = hashlib.sha256()
    for path in sorted([*ROOT.glob("blog/**/*.py"), *ROOT.glob("migrations/**/*.py")]):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class Checkout:
    """A commit checked out in a worktree of its own."""

    ref: str
    sha: str
    path: Path


@contextmanager
def worktree(ref: str) -> Iterator[Checkout]:
    """``ref`` checked out (detached) in a temporary directory, removed on the way out."""
    try:
        sha = git("rev-parse", "--verify", "--short", f"{ref}^{{commit}}")
    except GitError as error:
        raise GitError(f"--baseline {ref}: not a commit here ({error})") from error
    parent = Path(tempfile.mkdtemp(prefix="blog-bench-baseline-"))
    path = parent / sha
    try:
        git("worktree", "add", "--detach", "--quiet", str(path), sha)
        yield Checkout(ref, sha, path)
    finally:
        # Never added, or already gone: the prune forgets it either way.
        with suppress(GitError):
            git("worktree", "remove", "--force", str(path))
        shutil.rmtree(parent, ignore_errors=True)
        with suppress(GitError):
            git("worktree", "prune")
