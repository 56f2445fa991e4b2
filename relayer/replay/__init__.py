"""Record and replay: ``exorelay record`` keeps what the relayer reads from Exocore for a height range
in a checksummed fixture (:mod:`~relayer.replay.fixture`, :mod:`~relayer.replay.record`);
``exorelay replay`` serves it back over CometBFT RPC and gRPC (:mod:`~relayer.replay.servers`) to the
unmodified relayer + indexer running against an anvil fork of L1 (:mod:`~relayer.replay.replay`) and
reports what would happen (:mod:`~relayer.replay.report`)."""
