"""Versions of one article: is a fetch a change (decide), when to look again (revisit), the change in one line."""
