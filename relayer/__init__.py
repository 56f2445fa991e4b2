"""exorelay: the verified return path from Exocore (rewards, slashing) to L1 client-chain contracts."""

__version__ = "0.1.0"
