"""The scenario fleet of the inventory tests (one fake API server per real-world shape), for the
``inventory`` and ``scan`` command tests."""

from tests.jobs.inventory.conftest import fleet

__all__ = ["fleet"]
