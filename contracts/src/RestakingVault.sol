// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {Leaf} from "./interfaces/IExorelay.sol";

/// @notice The gateway's pause switch, which also stops withdrawal payouts here.
interface IPausable {
    function paused() external view returns (bool);
}

/// @title RestakingVault
/// @notice L1 custody of restaked principal. Exocore is the ledger: who owns how much, and what a
/// slash took from whom, is Exocore's bookkeeping. This vault only takes tokens in (and tells
/// Exocore, by event, what arrived) and lets them out against Exocore's verified word.
/// @dev Invariants:
/// - Staker entry points (`delegate`, `requestWithdrawal`) move tokens in or nothing; no staker call
///   moves principal out. Each emits an event numbered by `nextRequestId` (one sequence for both),
///   which Exocore follows at L1 finality: a delegation becomes the operator's delegated stake, a
///   withdrawal request starts Exocore's unbonding.
/// - Principal leaves only (a) to the slashing sink, by a SLASH packet the gateway verified: exactly
///   the amount per token Exocore computed, or what custody holds if less (the rest is emitted as
///   `SlashShortfall`, never a revert, so a later packet is never blocked); (b) to stakers, by a
///   WITHDRAWAL_APPROVAL root the gateway verified: each leaf paid once (bitmap), by a relayer's batch
///   or the staker's own claim, in any order.
/// - `totalPrincipal[token]` is what this vault holds as principal of `token`: credited deposits minus
///   slashed and paid amounts. A payout never takes more than it.
/// - A SLASH packet's freeze marks the operator frozen here; `delegate` to an operator frozen for any
///   AVS reverts `OperatorIsFrozen` (Exocore's delegations to a frozen operator are refused as well).
contract RestakingVault is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev Four slots; total/paid share one (the slot every payout reads and writes once).
    struct Approval {
        bytes32 root;
        address token;
        uint32 leafCount;
        uint64 epoch;
        uint128 total;
        uint128 paid;
    }

    address public immutable GATEWAY;
    address public immutable SLASHING_SINK;

    /// @notice Number the next delegation or withdrawal request gets (starts at 1).
    uint64 public nextRequestId = 1;
    mapping(address token => uint256) public totalPrincipal;
    mapping(address operator => mapping(address avs => bool)) public frozen;
    /// @notice Frozen for at least one AVS: no new delegation.
    mapping(address operator => bool) public operatorFrozen;
    mapping(bytes32 approvalId => Approval) private _approvals;
    mapping(bytes32 approvalId => mapping(uint256 word => uint256 bits)) private _paidLeaves;

    event Delegated(
        uint64 indexed requestId, address indexed staker, address indexed operator, address token, uint256 amount
    );
    event WithdrawalRequested(
        uint64 indexed requestId, address indexed staker, address indexed operator, address token, uint256 amount
    );
    event Slashed(address indexed token, uint256 amount, address indexed sink);
    event SlashShortfall(address indexed operator, address indexed token, uint256 requested, uint256 moved);
    event OperatorFrozen(address indexed operator, address indexed avs);
    event ApprovalsRegistered(
        bytes32 indexed approvalId, address indexed token, uint64 epoch, uint256 total, uint32 leafCount, bytes32 root
    );
    event WithdrawalPaid(bytes32 indexed approvalId, uint256 index, address indexed staker, uint256 amount);

    error OnlyGateway(address caller);
    error OperatorIsFrozen(address operator);
    error ZeroAmount();
    error ZeroAddress();
    error GatewayPaused();
    error InvalidApproval();
    error ApprovalExists(bytes32 approvalId);
    error AmountTooLarge(uint256 amount);
    error UnknownApproval(bytes32 approvalId);
    error EmptyBatch();
    error InvalidMerkleProof();
    error LeafIndexOutOfRange(uint256 index, uint32 leafCount);
    error LeafAlreadyPaid(uint256 index);
    error ExceedsTotal(uint256 paid, uint256 total);
    error InsufficientCustody(address token, uint256 requested, uint256 available);

    constructor(address gateway, address slashingSink) {
        if (gateway == address(0) || slashingSink == address(0)) revert ZeroAddress();
        GATEWAY = gateway;
        SLASHING_SINK = slashingSink;
    }

    modifier onlyGateway() {
        if (msg.sender != GATEWAY) revert OnlyGateway(msg.sender);
        _;
    }

    modifier whenGatewayLive() {
        if (IPausable(GATEWAY).paused()) revert GatewayPaused();
        _;
    }

    // ------------------------------------------------------------------ staker entry points

    /// @notice Deposit `amount` of `token` and delegate it to `operator` (Exocore credits the
    /// operator's delegated stake with what arrived once this block is final).
    /// @return requestId the number Exocore knows this delegation by.
    /// @return credited what actually arrived (fee-on-transfer tokens credit less).
    function delegate(address operator, address token, uint256 amount)
        external
        nonReentrant
        returns (uint64 requestId, uint256 credited)
    {
        if (amount == 0) revert ZeroAmount();
        if (operator == address(0) || token == address(0)) revert ZeroAddress();
        if (operatorFrozen[operator]) revert OperatorIsFrozen(operator);
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        credited = IERC20(token).balanceOf(address(this)) - before;
        if (credited == 0) revert ZeroAmount();
        totalPrincipal[token] += credited;
        requestId = nextRequestId++;
        emit Delegated(requestId, msg.sender, operator, token, credited);
    }

    /// @notice Ask Exocore to undelegate `amount` of `token` from `operator` and, after unbonding,
    /// approve its withdrawal. Moves nothing: the principal leaves only against the approval, for
    /// what is left of it after every slash that applied meanwhile. Exocore ignores a request for
    /// more than the caller has delegated.
    function requestWithdrawal(address operator, address token, uint256 amount) external returns (uint64 requestId) {
        if (amount == 0) revert ZeroAmount();
        if (operator == address(0) || token == address(0)) revert ZeroAddress();
        requestId = nextRequestId++;
        emit WithdrawalRequested(requestId, msg.sender, operator, token, amount);
    }

    // ------------------------------------------------------------------ gateway (verified packets)

    /// @notice Execute a verified SLASH: freeze if asked, then move each token's amount to the sink.
    /// Custody holding less moves what it holds and emits the shortfall; it never reverts for it.
    function slash(
        address operator,
        address avs,
        address[] calldata tokens,
        uint256[] calldata amounts,
        bool freeze
    ) external onlyGateway nonReentrant {
        if (freeze && !frozen[operator][avs]) {
            frozen[operator][avs] = true;
            operatorFrozen[operator] = true;
            emit OperatorFrozen(operator, avs);
        }
        for (uint256 i = 0; i < tokens.length; ++i) {
            address token = tokens[i];
            uint256 requested = amounts[i];
            uint256 held = totalPrincipal[token];
            uint256 moved = requested > held ? held : requested;
            unchecked {
                totalPrincipal[token] = held - moved;
            }
            if (moved != 0) IERC20(token).safeTransfer(SLASHING_SINK, moved);
            emit Slashed(token, moved, SLASHING_SINK);
            if (moved != requested) emit SlashShortfall(operator, token, requested, moved);
        }
    }

    /// @notice Record a verified WITHDRAWAL_APPROVAL root (leaves: index, staker, amount of `token`).
    function registerApprovals(
        bytes32 approvalId,
        address token,
        uint64 epoch,
        uint256 total,
        uint32 leafCount,
        bytes32 root
    ) external onlyGateway {
        if (token == address(0) || leafCount == 0 || root == bytes32(0)) revert InvalidApproval();
        if (total > type(uint128).max) revert AmountTooLarge(total);
        if (_approvals[approvalId].root != bytes32(0)) revert ApprovalExists(approvalId);
        _approvals[approvalId] =
            Approval({root: root, token: token, leafCount: leafCount, epoch: epoch, total: uint128(total), paid: 0});
        emit ApprovalsRegistered(approvalId, token, epoch, total, leafCount, root);
    }

    // ------------------------------------------------------------------ withdrawal payouts

    /// @notice Pay a batch of approved withdrawals proven with one OZ multiproof. Anyone may call.
    /// @dev Leaves already paid (a staker's claim landed first, or an earlier batch) are skipped
    /// without an event, so claiming one leaf just before a batch lands cannot make it revert.
    function payout(bytes32 approvalId, Leaf[] calldata leaves, bytes32[] calldata proof, bool[] calldata proofFlags)
        external
        nonReentrant
        whenGatewayLive
    {
        uint256 count = leaves.length;
        if (count == 0) revert EmptyBatch();
        Approval storage record = _approvals[approvalId];
        bytes32 root = record.root;
        if (root == bytes32(0)) revert UnknownApproval(approvalId);
        bytes32[] memory hashes = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            hashes[i] = _leafHash(leaves[i]);
        }
        if (!MerkleProof.multiProofVerifyCalldata(proof, proofFlags, root, hashes)) revert InvalidMerkleProof();
        uint32 leafCount = record.leafCount;
        mapping(uint256 => uint256) storage words = _paidLeaves[approvalId];
        // Batch positions to pay, one bit each (paid leaves are skipped).
        uint256[] memory pay = new uint256[]((count + 255) >> 8);
        uint256 sum = 0;
        for (uint256 i = 0; i < count; ++i) {
            uint256 index = leaves[i].index;
            if (index >= leafCount) revert LeafIndexOutOfRange(index, leafCount);
            uint256 bit = uint256(1) << (index & 0xff);
            uint256 bits = words[index >> 8];
            if (bits & bit != 0) continue;
            words[index >> 8] = bits | bit;
            pay[i >> 8] |= uint256(1) << (i & 0xff);
            sum += leaves[i].amount;
        }
        address token = record.token;
        _settle(record, token, sum);
        for (uint256 i = 0; i < count; ++i) {
            if ((pay[i >> 8] >> (i & 0xff)) & 1 == 0) continue;
            Leaf calldata leaf = leaves[i];
            IERC20(token).safeTransfer(leaf.staker, leaf.amount);
            emit WithdrawalPaid(approvalId, leaf.index, leaf.staker, leaf.amount);
        }
    }

    /// @notice Pay one approved withdrawal with its Merkle proof. Anyone may call (the staker
    /// self-claims); the tokens go to the leaf's staker.
    function claim(bytes32 approvalId, Leaf calldata leaf, bytes32[] calldata proof)
        external
        nonReentrant
        whenGatewayLive
    {
        Approval storage record = _approvals[approvalId];
        bytes32 root = record.root;
        if (root == bytes32(0)) revert UnknownApproval(approvalId);
        if (!MerkleProof.verifyCalldata(proof, root, _leafHash(leaf))) revert InvalidMerkleProof();
        uint256 index = leaf.index;
        uint32 leafCount = record.leafCount;
        if (index >= leafCount) revert LeafIndexOutOfRange(index, leafCount);
        mapping(uint256 => uint256) storage words = _paidLeaves[approvalId];
        uint256 bit = uint256(1) << (index & 0xff);
        uint256 bits = words[index >> 8];
        if (bits & bit != 0) revert LeafAlreadyPaid(index);
        words[index >> 8] = bits | bit;
        address token = record.token;
        _settle(record, token, leaf.amount);
        IERC20(token).safeTransfer(leaf.staker, leaf.amount);
        emit WithdrawalPaid(approvalId, index, leaf.staker, leaf.amount);
    }

    // ------------------------------------------------------------------ views

    function approval(bytes32 approvalId) external view returns (Approval memory) {
        return _approvals[approvalId];
    }

    function isPaid(bytes32 approvalId, uint256 index) external view returns (bool) {
        return (_paidLeaves[approvalId][index >> 8] >> (index & 0xff)) & 1 == 1;
    }

    // ------------------------------------------------------------------ internals

    /// @dev Count `amount` against the signed total and against custody (a shortfall left by an
    /// earlier slash makes the payout wait for custody, with a named error, rather than pay
    /// another token's or another staker's principal).
    function _settle(Approval storage approval_, address token, uint256 amount) private {
        uint256 paid = uint256(approval_.paid) + amount;
        uint256 total = approval_.total;
        if (paid > total) revert ExceedsTotal(paid, total);
        approval_.paid = uint128(paid);
        uint256 held = totalPrincipal[token];
        if (amount > held) revert InsufficientCustody(token, amount, held);
        unchecked {
            totalPrincipal[token] = held - amount;
        }
    }

    /// @dev OZ StandardMerkleTree leaf: keccak256(bytes.concat(keccak256(abi.encode(index, staker, amount)))).
    function _leafHash(Leaf calldata leaf) private pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            calldatacopy(m, leaf, 96)
            mstore(0x00, keccak256(m, 96))
            hash := keccak256(0x00, 0x20)
        }
    }
}
