"""Database helpers of the site: its PostgreSQL backend and hand-written queries' rows."""
