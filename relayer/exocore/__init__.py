"""Exocore client: CometBFT JSON-RPC, block following, typed events and Cosmos gRPC queries.

- :mod:`relayer.exocore.rpc`: typed CometBFT RPC client with endpoint failover and lie detection.
- :mod:`relayer.exocore.follower`: committed blocks in strict height order (pull, optional push).
- :mod:`relayer.exocore.events`: ABCI events decoded into typed, validated records.
- :mod:`relayer.exocore.grpc_client`: the exocore query services (packets, valsets, leaves, ...).
- :mod:`relayer.exocore.errors`: the errors all of the above raise.
- :mod:`relayer.exocore.proto`: generated protobuf / gRPC code (``proto/generate.py``; do not edit).

Nothing here knows whether the node is a real Exocore node or the devnet simulator: both speak the
same wire protocols.
"""
