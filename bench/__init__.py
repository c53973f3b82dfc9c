"""The HTTP benchmark of ``blog serve`` (``python -m bench``, ``make bench``).

Modules by concern: ``wrk`` drives wrk and reads its result, ``report`` holds rows,
ratios, targets and the table (pure, tested), ``scenarios`` builds the requests,
``databases`` prepares the seeded databases, ``servers`` starts and watches processes,
``git`` checks out the baseline, ``harness`` measures, ``run`` decides what and in which
order. ``naive`` and ``ceiling`` are the two apps measured beside the real one.
"""
