"""The devnet's defaults that its command line shows in ``--help``.

Invariant: this module imports nothing (the ``devnet`` role's options are built from it whenever
``exorelay --help`` lists the roles, which must not pay for the chain simulator's imports).
:mod:`devnet.chain.params` re-exports them.
"""

from __future__ import annotations

from typing import Final

DEFAULT_EPOCH_BLOCKS: Final = 10
"""Blocks per epoch: short, so tests and demos see several elections within seconds."""
DEFAULT_VALIDATORS: Final = 4
"""Exocore validators (relay signers): the fewest where one late validator still leaves a 2/3 quorum."""
DEFAULT_BLOCK_TIME_MS: Final = 1000
"""Devnet block time: fast enough for demos, slow enough to watch (CometBFT's default is 3 s)."""
DEFAULT_SEED: Final = "exorelay"
"""Seed every devnet key derives from: fixed, so a devnet's addresses are the same on every run."""
