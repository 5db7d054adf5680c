"""MongoDB persistence of articles and their immutable versions.

One module per concern: `connection` (where the store is), `indexes` (the
schema's indexes, created at every start), `writes` (inserts a retry cannot
double), `versions` (what a version holds and the one versioning decision),
`articles` (ArticleStore: reading and writing `articles` and `versions`),
`reads` (sorted reads that stay cheap, the last run), `leases` (who holds a site now),
`embedded` and `session` (the embedded server and a command's store session), `export`
(WARC and JSON lines out). The names below are the package's public face, for the command line, the
benchmarks and the tests.
"""

from crawler.store.articles import ArticleStore, SaveResult
from crawler.store.connection import connect, database_name, open_database
from crawler.store.indexes import COMMON_ANCHOR_TTL_S, FETCH_LOG_TTL, ensure_indexes
from crawler.store.versions import CurrentView, Page, compress_raw, decompress_raw
from crawler.store.writes import insert_new
from crawler.types import Doc

__all__ = [
    "COMMON_ANCHOR_TTL_S",
    "FETCH_LOG_TTL",
    "ArticleStore",
    "CurrentView",
    "Doc",
    "Page",
    "SaveResult",
    "compress_raw",
    "connect",
    "database_name",
    "decompress_raw",
    "ensure_indexes",
    "insert_new",
    "open_database",
]
