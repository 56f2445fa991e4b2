"""``exorelay operator``: one per committee member, next to its node.

It polls the aggregators for reward claims and slash requests its AVSs' committees are asked to
sign, checks each itself (:mod:`avs.operator.checks`), refuses to sign two different digests in one
signing slot (:mod:`avs.operator.protection`, committed before any signature exists), signs with the
BLS key of its EIP-2335 keystore (:mod:`avs.operator.keys`) and posts the signature to every
aggregator with retry (:mod:`avs.operator.aggregator_client`). The loop is :mod:`avs.operator.service`;
the command line :mod:`avs.operator.cli`. Importing this package imports nothing else.
"""
