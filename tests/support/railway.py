"""The Railway emulator's token and the client options the tests use with it."""

RAILWAY_TEST_TOKEN = "test-railway-master-token-7f3a9c"
# Fast but real: retries back off in milliseconds, deploys settle in about a second.
RAILWAY_TEST_CLIENT_OPTIONS = {
    "connect_timeout": 2.0,
    "read_timeout": 5.0,
    "backoff_base": 0.01,
    "backoff_cap": 0.05,
    "max_rate_wait": 5.0,
    "breaker_reset_seconds": 1.0,
}
