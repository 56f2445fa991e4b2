"""``exorelay aggregator``: collects AVS committee members' BLS signatures over reward claims and slash
requests, checks each against the committee Exocore reports, aggregates them and submits the
aggregate to Exocore in a signed Cosmos transaction (docs/protocol.md, "Signature collection")."""
