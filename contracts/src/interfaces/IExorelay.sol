// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice One distribution leaf: OZ StandardMerkleTree leaf types ["uint256","address","uint256"].
struct Leaf {
    uint256 index;
    address staker;
    uint256 amount;
}

/// @notice One cumulative reward leaf: OZ StandardMerkleTree leaf types ["address","address","uint256"]:
/// everything `earner` ever earned in `token` on this client chain up to the root's period.
struct CumulativeLeaf {
    address earner;
    address token;
    uint256 cumulative;
}

/// @notice A validator-set attestation over a packet digest.
/// @param signerBitmap ceil(n/8) bytes over the ordered set; member i is bit (i % 8) of byte i / 8.
/// @param signature aggregate BLS signature, G2 in EIP-2537 uncompressed form (256 bytes).
struct Attestation {
    bytes signerBitmap;
    bytes signature;
}

/// @notice A reward token the gateway may mint (MINT funding mode).
interface IRewardMintable {
    function mint(address to, uint256 amount) external;
}

/// @notice Canonical wrapped ether (WETH9 interface subset).
interface IWETH {
    function deposit() external payable;
    function withdraw(uint256 amount) external;
}

/// @notice AVS-funded reward balances; pays only on the gateway's instruction.
interface IRewardVault {
    function GATEWAY() external view returns (address);
    function balanceOf(address avs, address token) external view returns (uint256);
    function pay(address avs, address token, uint8 source, address to, uint256 amount) external;
    function payBatch(address avs, address token, uint8 source, Leaf[] calldata leaves, uint256[] calldata skipped)
        external;
    function acceptCumulativeRoot(uint64 nonce, bytes calldata payload) external;
}

/// @notice What the reward vault reads of the gateway: its guardian pause stops cumulative claims too.
interface IGatewayPausable {
    function paused() external view returns (bool);
}

/// @notice Custody of restaked principal; principal leaves only on the gateway's verified packets.
interface IRestakingVault {
    function GATEWAY() external view returns (address);
    function frozen(address operator, address avs) external view returns (bool);
    function slash(address operator, address avs, address[] calldata tokens, uint256[] calldata amounts, bool freeze)
        external;
    function registerApprovals(
        bytes32 approvalId,
        address token,
        uint64 epoch,
        uint256 total,
        uint32 leafCount,
        bytes32 root
    ) external;
}
