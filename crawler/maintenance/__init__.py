"""The store kept sound between crawls: repair of half-written runs, the invariant checks (verify), schema migration."""
