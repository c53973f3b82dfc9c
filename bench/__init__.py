"""The HTTP benchmark of ``blog serve`` (``python -m bench``, ``make bench``).

Modules by concern: ``wrk`` drives wrk and reads its result; ``report`` holds rows,
ratios, targets and the table (pure, tested); ``scenarios`` builds the requests;
``databases`` prepares the seeded databases and ``dataset`` reads what requests are made
of; ``servers`` starts and watches processes; ``git`` checks out the baseline;
``harness`` measures; ``run`` decides what and in which order; ``summary`` prints and
writes the results. ``naive`` and ``ceiling`` are the apps measured beside the real one.
``seed_speed`` is a separate benchmark of `blog seed`.
"""
