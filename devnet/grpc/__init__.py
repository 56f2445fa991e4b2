"""Cosmos gRPC front end of the devnet: the tendermint service from the block store, the exocore query
services from a :class:`~devnet.grpc.queries.ChainQueries`, and the devnet-only Msg service that
drives a :class:`~devnet.grpc.driver.ChainDriver`."""
