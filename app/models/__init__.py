"""The shapes of requests, answers and the import document, shared by the REST API, the web
pages and import/export; they import only the domain."""
