"""CometBFT 0.37 JSON-RPC + websocket front end of the devnet, served from the block store."""
