// Independent reference for tests/protocol/test_cumulative.py: @openzeppelin/merkle-tree
// (StandardMerkleTree) over cumulative leaves ["address", "address", "uint256"].
//
// stdin:  {"values": [["0x<earner>", "0x<token>", "<cumulative dec>"], ...], "subset": [valuePosition, ...]}
// stdout: {"root", "tree", "proofs" (per value, input order), "multiproof": {"leaves", "proof", "proofFlags"}}
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';

const ENCODING = ['address', 'address', 'uint256'];
const toValue = ([earner, token, cumulative]) => [earner.toLowerCase(), token.toLowerCase(), BigInt(cumulative)];
const fromValue = ([earner, token, cumulative]) => [earner.toLowerCase(), token.toLowerCase(), cumulative.toString()];

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const tree = StandardMerkleTree.of(input.values.map(toValue), ENCODING);
const m = tree.getMultiProof(input.subset);
process.stdout.write(
  JSON.stringify({
    root: tree.root,
    tree: tree.dump().tree,
    proofs: input.values.map((_, position) => tree.getProof(position)),
    multiproof: { leaves: m.leaves.map(fromValue), proof: m.proof, proofFlags: m.proofFlags },
  }),
);
