"""What the server tells its operators: request ids, structured logs.

:func:`request_id` is the id of the request being served (None outside one), for error
bodies and anything else that wants to point at the request's log lines.
"""

from blog.observability.context import request_id

__all__ = ["request_id"]
