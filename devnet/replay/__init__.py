"""Replay (part of ``exorelay-devnet``): ``exorelay replay`` serves a recording made by ``exorelay
record`` (:mod:`relayer.replay`) back over CometBFT RPC and gRPC (:mod:`~devnet.replay.servers`, built
on the devnet's servicers) to the unmodified relayer + indexer running against an anvil fork of L1
(:mod:`~devnet.replay.runner`), and reports what would happen (:mod:`relayer.replay.report`)."""
