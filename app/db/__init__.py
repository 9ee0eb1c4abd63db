"""Storage: SQLModel tables, engine and session helpers, repositories."""
