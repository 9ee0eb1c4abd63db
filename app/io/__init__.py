"""Import and export of definitions as one JSON document (DESIGN.md "Import / export")."""
