"""Operating the board: who may run it (maintainers and the operator token), moderation of results, the
public audit log, visitors' reports, health and metrics, notifications (webhooks, Atom feeds) and data
snapshots. Routes and pages import from here; what it stores goes through app/db/repositories."""
