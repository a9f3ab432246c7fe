"""Intake: what a submitter sends and where it goes. The submission request and its checks (validation,
with the Hub client, the Hub gate, model ids and per-client limits), the submissions service that stores and
queues them, the run specification fixed at submit, and routing to worker classes (queues)."""
