"""The application layer: one module per use case, used alike by the REST routes
(app/api/routes) and the web pages (app/web). Commands take the engine (each call is one
unit of work, committed before the scheduler hears of it), the acting user and `now`; reads
take a session and apply the caller's instance scope (`scope.InstanceScope`) in one place."""
