"""The lifecycle explorer: web pages over the indexer's query API, served by ``exorelay api`` at ``/``.

Design: server-rendered HTML (Jinja2 templates) plus one small vanilla-JS file that only refreshes
the backlog counters from ``/v1/stats``. Why this and not a single-page app:

- No build step and nothing fetched at run time: the templates, one CSS and one JS file ship inside
  the Python package; there is no npm toolchain to install, audit or keep in step with the API.
- The pages call the same :mod:`indexer.api.queries` functions as the JSON endpoints, in the same
  process, over the same read-only engine: a page cannot disagree with ``/v1`` and needs no second
  client, schema copy or CORS.
- Every page is a plain document with real links and GET forms: it works without JavaScript, each
  filter state is a shareable URL, and accessibility (semantic tables, labels, keyboard order, focus)
  comes from HTML itself instead of being rebuilt in widgets.
- The pictures (quorum bars, stage timelines, committee power) are inline SVG computed on the
  server (:mod:`indexer.api.explorer.views`), each with a text equivalent next to it.

See README.md beside this file for the page map.
"""

from indexer.api.explorer.routes import STATS_POLL_INTERVAL_S, mount_explorer

__all__ = ["STATS_POLL_INTERVAL_S", "mount_explorer"]
