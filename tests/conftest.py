"""Suite-wide configuration: shared fixtures live in tests/rpctest/."""

from hypothesis import HealthCheck, settings

pytest_plugins = ["rpctest.fixtures"]

# CI machines are shared and have two cores: property tests may not be judged
# on how fast their inputs are drawn, only on what the code does with them.
settings.register_profile(
    "rpc", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("rpc")
