"""Business rules as plain functions taking a session and ids. They flush, never commit:
the view or task that calls them owns the transaction."""
