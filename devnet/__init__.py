"""Local Exocore chain simulator and local L1 (anvil) orchestration."""
