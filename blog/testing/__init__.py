"""Test support for this project and for testers of the API: factories and pytest fixtures."""
