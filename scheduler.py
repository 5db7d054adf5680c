"""The background service: `python scheduler.py [--config PATH]`. See crawler/service/app.py."""

import sys

from crawler.service.app import main

if __name__ == "__main__":
    sys.exit(main())
