"""The background service: `python scheduler.py [--config PATH]`. See crawler/service.py."""

import sys

from crawler.service import main

if __name__ == "__main__":
    sys.exit(main())
