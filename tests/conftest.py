"""Suite-wide configuration: shared fixtures live in tests/rpctest/."""

pytest_plugins = ["rpctest.fixtures"]
