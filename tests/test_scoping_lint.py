"""A lint, run as a test: request code reaches the database only through scoped sessions.

Raw SQL text, raw connections and driver-level SQL bypass the ORM's tenant scoping, and
so do joins built with Core's ``sa.join``/``sa.outerjoin`` (the hook's criteria miss the
joined table; ``select(...).outerjoin(Entity, ...)`` is scoped).
Outside the modules that implement the plumbing, each use must carry a
``# raw-sql: <reason>`` comment on its line, or this test fails and names it.
"""

import ast
from pathlib import Path

BLOG = Path(__file__).resolve().parent.parent / "blog"
PLUMBING = {"database.py", "tenancy.py", "health.py", "testing/plugin.py"}
ESCAPES = {"text", "connect", "connection", "raw_connection", "exec_driver_sql"}
CORE_JOINS = {"join", "outerjoin"}
MARKER = "# raw-sql:"


def unscoped_calls(path: Path, label: str) -> list[str]:
    source = path.read_text()
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if isinstance(node.func, ast.Name):
            name = node.func.id
        core_join = (
            isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in {"sa", "sqlalchemy"}
            and name in CORE_JOINS
        )
        if (name in ESCAPES or core_join) and MARKER not in lines[node.lineno - 1]:
            found.append(f"{label}:{node.lineno}: {name}()")
    return found


def test_request_code_uses_only_scoped_sessions() -> None:
    modules = [
        path for path in sorted(BLOG.rglob("*.py")) if str(path.relative_to(BLOG)) not in PLUMBING
    ]

    offenders = [
        hit for path in modules for hit in unscoped_calls(path, str(path.relative_to(BLOG)))
    ]

    assert len(modules) > 20
    assert offenders == [], "unscoped database access (mark with '# raw-sql: why'):\n" + "\n".join(
        offenders
    )


def test_the_lint_sees_an_unmarked_escape_and_honours_the_marker(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import sqlalchemy as sa\n"
        "QUERY = sa.text('SELECT * FROM users')\n"
        "KEPT = sa.text('SELECT 1')  # raw-sql: no table involved\n"
        "JOINED = sa.outerjoin(posts, tags)\n"
        "SCOPED = sa.select(Post).outerjoin(Tag)\n"
    )

    assert unscoped_calls(sample, "sample.py") == [
        "sample.py:2: text()",
        "sample.py:4: outerjoin()",
    ]
