"""Only for `scrapyd-deploy`, which builds an egg with `python setup.py bdist_egg`:
the package's metadata, its entry point for Scrapy settings and everything else live
in pyproject.toml. Everyone else installs with pip."""

from setuptools import setup

setup()
