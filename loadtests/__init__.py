"""Locust scenarios and the headless load-test runner."""
