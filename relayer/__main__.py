"""``python -m relayer``: the same as the ``exorelay`` console script."""

from relayer.cli import app

app()
