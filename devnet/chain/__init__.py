"""The simulated Exocore chain: committed blocks (``blockstore``) and the state machine that makes them."""
