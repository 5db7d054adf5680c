"""Text out of a page: extraction, dates, normalisation, page chrome and the non-article judgement."""
