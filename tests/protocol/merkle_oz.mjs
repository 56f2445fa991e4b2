// Independent reference for tests/protocol/test_merkle.py: @openzeppelin/merkle-tree (StandardMerkleTree).
//
// stdin:  {"cases": [{"values": [["<index dec>", "0x<staker>", "<amount dec>"], ...],
//                     "subsets": [[valuePosition, ...], ...],
//                     "ours": {"root": "0x..", "proofs": [["0x..", ...], ...],
//                              "multiproofs": [{"leaves": [[...], ...], "proof": [...], "proofFlags": [...]}]}}]}
// stdout: {"cases": [{"root", "proofs", "multiproofs", "tree", "oursProofsVerify", "oursMultiproofsVerify"}]}
// Proofs are per value in input order; multiproof leaves are returned as values, in OZ's order.
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';

const ENCODING = ['uint256', 'address', 'uint256'];

const toValue = ([index, staker, amount]) => [BigInt(index), staker.toLowerCase(), BigInt(amount)];
const fromValue = ([index, staker, amount]) => [index.toString(), staker.toLowerCase(), amount.toString()];

function runCase({ values, subsets, ours }) {
  const tree = StandardMerkleTree.of(values.map(toValue), ENCODING);
  const proofs = values.map((_, position) => tree.getProof(position));
  const multiproofs = subsets.map(subset => {
    const m = tree.getMultiProof(subset);
    return { leaves: m.leaves.map(fromValue), proof: m.proof, proofFlags: m.proofFlags };
  });
  const oursProofsVerify = ours.proofs.map((proof, position) =>
    StandardMerkleTree.verify(ours.root, ENCODING, toValue(values[position]), proof),
  );
  const oursMultiproofsVerify = ours.multiproofs.map(m =>
    StandardMerkleTree.verifyMultiProof(ours.root, ENCODING, {
      leaves: m.leaves.map(toValue),
      proof: m.proof,
      proofFlags: m.proofFlags,
    }),
  );
  return { root: tree.root, proofs, multiproofs, tree: tree.dump().tree, oursProofsVerify, oursMultiproofsVerify };
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
process.stdout.write(JSON.stringify({ cases: input.cases.map(runCase) }));
