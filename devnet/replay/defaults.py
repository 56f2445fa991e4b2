"""Defaults shared by the replay driver and its CLI (a light module: the CLI imports it eagerly, so it
imports nothing)."""

from __future__ import annotations

from typing import Final

REPLAY_SIGNER_ACCOUNT_INDEX: Final = 9
"""anvil's last default dev account signs: the one a devnet or a test least likely used on the forked
chain (its nonce there is the fork's, whatever it is)."""
DEFAULT_REPLAY_TIMEOUT_S: Final = 300.0
"""A replay of a day of Exocore blocks with a few 10k-leaf distributions settles well within this."""
