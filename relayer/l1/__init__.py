"""L1 side: contract artifacts and bindings, transaction manager, event watcher."""
