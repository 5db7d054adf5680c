"""A local news network on 127.0.0.1, shared by the tests, the benchmarks and `newscrawl demo`."""

from crawler.localnet.server import LocalNetwork, Traffic
from crawler.localnet.world import Clock, World

__all__ = ["Clock", "LocalNetwork", "Traffic", "World"]
