"""One module per kind of reward model; the registry is ``worker.engine.kinds``."""
