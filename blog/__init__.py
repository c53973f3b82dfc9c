"""blog: a multi-tenant blog backend."""
