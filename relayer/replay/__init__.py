"""Record: ``exorelay record`` keeps what the relayer reads from Exocore for a height range in a
checksummed fixture (:mod:`~relayer.replay.fixture`, :mod:`~relayer.replay.record`).
:mod:`~relayer.replay.report` is what a replay reports, read from the database and L1. Replaying a
fixture needs the simulator's servers and anvil, so ``exorelay replay`` lives in the ``exorelay-devnet``
distribution (``devnet.replay``)."""
