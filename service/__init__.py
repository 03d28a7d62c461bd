"""The promptcut service around the fusion pipeline, one sub-package per role.

cli     the `promptcut` command line: one module per sub-command (replace, batch, themes, serve, eval, bench, ...)
api     the HTTP API (`promptcut serve`): the FastAPI app, routes/, request parameters, schemas, auth, uploads
jobs    background work for the API: the worker pool, the dispatcher, job tasks, the runtime services container
engine  cut, reprompt and rerender with stored artifacts: render requests, backgrounds, options, codecs, blob store
net     outbound network: safe URL fetching (SSRF rules) and signed webhooks
db      persistence: SQLAlchemy schema, the database connection and migrations, queries
bench   benchmark harnesses: pipeline, neural, service operations, HTTP overhead, catalogue jobs
"""
