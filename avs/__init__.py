"""The AVS side of exorelay: the services an AVS deployment runs next to Exocore.

- ``avs.aggregator`` (``exorelay aggregator``): one per AVS deployment; collects committee members'
  BLS signatures over reward claims and slash requests, checks each against the committee Exocore
  reports, aggregates and submits to Exocore as a signed Cosmos transaction.
- ``avs.operator`` (``exorelay operator``): one per committee member, next to its node; checks what
  it is asked to sign itself, signs with its own key (EIP-2335 keystore), never signs two different
  payloads for one request (local slashing protection), posts to the aggregators.

Both sit on the same layers as the relayer: ``relayer.protocol`` (pure), ``relayer.config``,
``storage`` and the Exocore clients in ``relayer.exocore``; nothing here imports the simulator.
"""
