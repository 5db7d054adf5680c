FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md scrapy.cfg scheduler.py ./
COPY crawler ./crawler
COPY spiders ./spiders
COPY config ./config
RUN pip install --no-cache-dir -c constraints.txt ".[node]"  # node: Scrapyd, for crawl nodes
ENV NEWSCRAWL_DATA=/app/data
# /app/data/journal exists in the image so that a volume mounted there is the crawler's
RUN useradd --create-home crawler && mkdir -p /app/data/journal && chown -R crawler /app/data
USER crawler
CMD ["python", "scheduler.py"]
