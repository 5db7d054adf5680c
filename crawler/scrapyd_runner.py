"""The Scrapyd runner's old path, for scrapyd.conf files written before the packages by stage.

`runner = crawler.scrapyd_runner` still starts jobs (through crawler.run.scrapyd_runner, with
all its checks), so a node whose package is upgraded before its configuration keeps running.
"""

from crawler.run.scrapyd_runner import main

if __name__ == "__main__":
    main()
