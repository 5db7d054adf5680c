"""Stories: which cluster of near-identical rewrites (one wire copy across sites) an article joins.

One concern a module, in the order a text goes through them: `shingles` (what
a text is compared and looked up by), `index` (the shared index in MongoDB and
the `stories` collection), `placement` (candidates verified by overlap, a
story chosen), `merge` (two stories a later copy bridges become one),
`changes` (member entries, the originating copy, what each
site changed). The names below are the package's public face.
"""

from crawler.stories.changes import local_changes
from crawler.stories.index import CommonAnchors, StoryIndex
from crawler.stories.merge import follow_merges, recheck_recent_merges, resolve
from crawler.stories.placement import Assignment, Member
from crawler.stories.shingles import (
    anchors_of,
    containment,
    jaccard,
    lede_similarity,
    ledes_of,
    pack,
    shingle_hashes,
    unpack,
)

__all__ = [
    "Assignment",
    "CommonAnchors",
    "Member",
    "StoryIndex",
    "anchors_of",
    "containment",
    "follow_merges",
    "jaccard",
    "lede_similarity",
    "ledes_of",
    "local_changes",
    "pack",
    "recheck_recent_merges",
    "resolve",
    "shingle_hashes",
    "unpack",
]
