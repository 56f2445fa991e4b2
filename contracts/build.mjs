#!/usr/bin/env node
// Compile contracts/src with the npm `solc` (standard-JSON API) and write one artifact per
// deployable contract to relayer/l1/abi/<Name>.json (abi, bytecode, deployedBytecode, storage layout,
// compiler version and settings, source hash). Output is deterministic, so the artifacts are
// committed, and they are package data of the relayer: a production install (the wheel, no
// checkout) loads them and never needs a compiler.
//
//   node contracts/build.mjs           rebuild and write relayer/l1/abi/
//   node contracts/build.mjs --check   rebuild in memory; exit 1 if relayer/l1/abi/ differs
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const CONTRACTS_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(CONTRACTS_DIR, "..");
const SRC_DIR = join(CONTRACTS_DIR, "src");
const OUT_DIR = join(REPO_ROOT, "relayer", "l1", "abi");
const OUT_NAME = relative(REPO_ROOT, OUT_DIR).split(sep).join("/");
const NODE_MODULES = join(REPO_ROOT, "node_modules");

// Compiler settings (recorded in every artifact).
// - evmVersion prague: EIP-2537 precompiles, MCOPY, transient storage (ReentrancyGuardTransient).
// - optimizer runs 10000: the gateway is deployed once and called for every packet and payout
//   batch, so runtime gas matters more than deployment size (the gateway stays well under EIP-170).
// - viaIR on: the packet entry points decode 8-field payloads, which the legacy pipeline cannot
//   keep on the stack; solcjs compiles the whole tree with IR in ~10 s.
// - metadata without CBOR suffix: bytecode then depends on the code only, not on comments or
//   paths, so a comment edit does not churn the committed bytecode (the source hash still changes).
const SETTINGS = {
  evmVersion: "prague",
  optimizer: { enabled: true, runs: 10000 },
  viaIR: true,
  metadata: { bytecodeHash: "none", appendCBOR: false },
  outputSelection: {
    "*": {
      "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "storageLayout"],
    },
  },
};

function listSources(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listSources(path));
    else if (entry.name.endsWith(".sol")) found.push(path);
  }
  return found.sort();
}

function findImports(importPath) {
  // Only OpenZeppelin (npm) imports are resolved outside contracts/src.
  if (!importPath.startsWith("@openzeppelin/")) return { error: `unresolvable import ${importPath}` };
  const file = join(NODE_MODULES, importPath);
  if (!existsSync(file)) return { error: `not found: ${file}` };
  return { contents: readFileSync(file, "utf8") };
}

function compile() {
  const sources = {};
  for (const file of listSources(SRC_DIR)) {
    const unit = relative(CONTRACTS_DIR, file).split(sep).join("/");
    sources[unit] = { content: readFileSync(file, "utf8") };
  }
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  // Diagnostics about our sources only (OpenZeppelin's own warnings are not ours to fix).
  for (const diagnostic of output.errors ?? []) {
    const file = diagnostic.sourceLocation?.file ?? "";
    if (diagnostic.severity === "error" || file.startsWith("src/")) {
      process.stderr.write(diagnostic.formattedMessage + "\n");
    }
  }
  if (errors.length > 0) {
    process.stderr.write(`solc: ${errors.length} error(s)\n`);
    process.exit(2);
  }
  return { input, output };
}

function sourceHash(unitNames, contents) {
  // Hash of every source unit the compiler saw (ours and OpenZeppelin's), in name order.
  const hash = createHash("sha256");
  for (const name of unitNames) {
    hash.update(name).update("\0").update(contents[name]).update("\0");
  }
  return "0x" + hash.digest("hex");
}

function artifacts() {
  const { input, output } = compile();
  const unitNames = Object.keys(output.sources).sort();
  const contents = {};
  for (const name of unitNames) {
    contents[name] = input.sources[name]?.content ?? findImports(name).contents;
  }
  const hash = sourceHash(unitNames, contents);
  const version = solc.version();
  const result = new Map();
  for (const [unit, contracts] of Object.entries(output.contracts)) {
    if (!unit.startsWith("src/")) continue;
    for (const [name, compiled] of Object.entries(contracts)) {
      const bytecode = compiled.evm.bytecode.object;
      if (bytecode.length === 0) continue; // interfaces and abstract contracts
      if (unit.startsWith("src/lib/")) continue; // internal libraries are inlined
      if (result.has(name)) throw new Error(`duplicate contract name ${name}`);
      const artifact = {
        contractName: name,
        sourceName: unit,
        abi: compiled.abi,
        bytecode: "0x" + bytecode,
        deployedBytecode: "0x" + compiled.evm.deployedBytecode.object,
        storageLayout: compiled.storageLayout,
        compiler: { name: "solc", version, settings: { ...SETTINGS, outputSelection: undefined } },
        sourceHash: hash,
      };
      result.set(name, JSON.stringify(artifact, null, 2) + "\n");
    }
  }
  return result;
}

function main() {
  const check = process.argv.includes("--check");
  const built = artifacts();
  const committed = existsSync(OUT_DIR) ? readdirSync(OUT_DIR).filter((f) => f.endsWith(".json")) : [];
  if (check) {
    const problems = [];
    for (const [name, text] of built) {
      const file = join(OUT_DIR, `${name}.json`);
      if (!existsSync(file)) problems.push(`missing ${relative(REPO_ROOT, file)}`);
      else if (readFileSync(file, "utf8") !== text) problems.push(`stale ${relative(REPO_ROOT, file)}`);
    }
    for (const file of committed) {
      if (!built.has(file.replace(/\.json$/, ""))) problems.push(`orphan ${OUT_NAME}/${file}`);
    }
    if (problems.length > 0) {
      process.stderr.write(
        problems.join("\n") + "\ncommitted artifacts differ from contracts/src: run `node contracts/build.mjs`\n",
      );
      process.exit(1);
    }
    process.stdout.write(`${OUT_NAME}: ${built.size} artifacts up to date\n`);
    return;
  }
  mkdirSync(OUT_DIR, { recursive: true });
  for (const file of committed) {
    if (!built.has(file.replace(/\.json$/, ""))) rmSync(join(OUT_DIR, file));
  }
  for (const [name, text] of built) writeFileSync(join(OUT_DIR, `${name}.json`), text);
  process.stdout.write(`${OUT_NAME}: wrote ${built.size} artifacts (solc ${solc.version()})\n`);
}

main();
