// A third-party CometBFT 0.37 client against the devnet's RPC, for tests/devnet/test_rpc_cosmjs.py:
// @cosmjs/tendermint-rpc (Tendermint37Client) and @cosmjs/stargate (StargateClient, QueryClient with
// createProtobufRpcClient over abci_query). Every response goes through cosmjs's own decoders, so a
// shape or type the client does not accept fails here, as it would against a real node.
//
// stdin:  {"rpc_url", "tx_query", "block_query", "commit_height",
//          "abci": [{"service", "method", "request_hex"}, ...]}
// stdout: JSON of what cosmjs decoded (bytes as upper-case hex, big integers as decimal strings).
import { QueryClient, StargateClient, createProtobufRpcClient } from '@cosmjs/stargate';
import { Tendermint37Client } from '@cosmjs/tendermint-rpc';

const hex = bytes => Buffer.from(bytes).toString('hex').toUpperCase();
const plain = value => JSON.parse(JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));

const txSummary = tx => ({ hash: hex(tx.hash), height: tx.height, index: tx.index, code: tx.result.code });
const blockSummary = b => ({ height: b.block.header.height, hash: hex(b.blockId.hash) });

function commitSummary(c) {
  return {
    height: c.header.height,
    chainId: c.header.chainId,
    appHash: hex(c.header.appHash),
    blockIdHash: hex(c.commit.blockId.hash),
    commitHeight: c.commit.height,
    signatures: c.commit.signatures.map(s => ({ flag: s.blockIdFlag, address: hex(s.validatorAddress ?? []) })),
    canonical: c.canonical,
  };
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));

  const comet = await Tendermint37Client.connect(input.rpc_url);
  const out = {};

  const page = await comet.txSearch({ query: input.tx_query, prove: true, page: 1, per_page: 2, order_by: 'desc' });
  out.txSearchPage = {
    total: page.totalCount,
    txs: page.txs.map(txSummary),
    proofs: page.txs.map(tx => ({
      rootHash: hex(tx.proof.rootHash),
      data: hex(tx.proof.data),
      total: tx.proof.proof.total,
      index: tx.proof.proof.index,
      leafHash: hex(tx.proof.proof.leafHash),
      aunts: tx.proof.proof.aunts.map(hex),
    })),
  };
  const all = await comet.txSearchAll({ query: input.tx_query });
  out.txSearchAll = { total: all.totalCount, txs: all.txs.map(txSummary) };

  const blocks = await comet.blockSearchAll({ query: input.block_query });
  out.blockSearch = { total: blocks.totalCount, blocks: blocks.blocks.map(blockSummary) };

  out.commit = commitSummary(await comet.commit(input.commit_height));
  out.latestCommit = commitSummary(await comet.commit());

  const genesis = await comet.genesis();
  out.genesis = plain({
    chainId: genesis.chainId,
    genesisTime: genesis.genesisTime.toISOString(),
    appHash: hex(genesis.appHash),
    validators: genesis.validators.map(v => ({ address: hex(v.address), power: v.votingPower })),
    consensusParams: genesis.consensusParams,
    appStateChainId: genesis.appState?.chain_id,
  });

  out.unconfirmed = await comet.numUnconfirmedTxs();

  // gRPC-over-ABCI through the generic protobuf RPC client, as cosmjs query extensions do.
  const rpc = createProtobufRpcClient(QueryClient.withExtensions(comet));
  out.abci = [];
  for (const call of input.abci) {
    try {
      const response = await rpc.request(call.service, call.method, Buffer.from(call.request_hex, 'hex'));
      out.abci.push({ ok: true, response_hex: hex(response) });
    } catch (error) {
      out.abci.push({ ok: false, error: String(error.message ?? error) });
    }
  }
  comet.disconnect();

  const stargate = await StargateClient.connect(input.rpc_url);
  const found = await stargate.searchTx(input.tx_query);
  out.stargate = {
    chainId: await stargate.getChainId(),
    height: await stargate.getHeight(),
    searchTx: found.map(tx => ({ hash: tx.hash, height: tx.height, index: tx.txIndex, code: tx.code })),
    getTx: found.length ? (await stargate.getTx(found[0].hash))?.hash ?? null : null,
  };
  stargate.disconnect();

  process.stdout.write(JSON.stringify(out));
}

main().catch(error => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
