"""
Fixtures for checking an app's Customer.io instrumentation under pytest.

Registered through the ``pytest11`` entry point; importing it only defines
fixtures.
"""
