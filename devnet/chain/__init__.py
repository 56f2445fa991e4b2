"""The simulated Exocore chain.

- ``blockstore``: committed blocks (SQLite), read by the CometBFT RPC and gRPC servers.
- ``params`` / ``msgs`` / ``model``: genesis, transactions and the records of the state.
- ``state`` (with ``election``, ``rewards``, ``slashing``, ``relay``): the pure, deterministic state
  machine; ``events`` names what it emits; ``views`` renders it as the ``exocore.*.v1`` protobufs.
- ``node``: block production, admission, replay on restart; ``persistence``: genesis + blocks in one file.
"""
