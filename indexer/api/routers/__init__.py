"""One module per resource of the API, each adding its routes to the ``/v1`` router;
:func:`indexer.api.app.create_app` assembles them (flat routes: the hot path and the metrics label
them by their ``APIRoute``)."""
