"""The background service: when each site is crawled, where (dispatch), alerts, metrics and their HTTP server."""
