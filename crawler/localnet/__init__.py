"""A local news network on 127.0.0.1, shared by the tests, the benchmarks and `newscrawl demo`."""

from crawler.localnet.server import LocalNetwork, Traffic
from crawler.localnet.world import World

__all__ = ["LocalNetwork", "Traffic", "World"]
