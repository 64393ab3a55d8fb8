"""Helpers shared by the test suites (unit, hil, browser, bench)."""
