// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {CumulativeLeaf, IGatewayPausable, IRewardMintable, IWETH, Leaf} from "./interfaces/IExorelay.sol";

/// @title RewardVault
/// @notice AVS-funded reward balances per (avs, token, source). Anyone may fund an AVS's balance;
/// only the gateway (an immutable set at deployment) can pay out of it, and never more than was
/// deposited for that AVS, token and source. Two sources hold tokens here: VAULT (the AVS's reward
/// deposits, `deposit`) and FEES (transaction fees the AVS collected on L1, `depositFees`); each is
/// debited only by distributions of its own source, so fees never pay a deposit's distribution and
/// the reverse. ETH is held as WETH.
/// @notice Cumulative rewards: the gateway hands over each period's verified CUMULATIVE_ROOT; an
/// earner (or anyone, paying the earner itself) claims `cumulative - claimed` per token.
/// @dev Cumulative invariants:
/// - periods only move forward: a root for a period <= latestPeriod is a no-op (emits Ignored);
/// - claimed[earner][token] only grows and a leaf pays exactly cumulative - claimed, so the same
///   cumulative amount is never paid twice, against any root (older roots stay provable);
/// - a token's cumulative payouts never exceed what was funded for it: cumulativeAvailable[token]
///   grows by what is drawn (VAULT: moved out of the AVSs' balances here; MINT: allowed to mint)
///   and every payout takes from it; a leaf that finds it short is skipped, not reverted;
/// - a batch never reverts for a leaf already paid (a front-run claim): that leaf is skipped.
contract RewardVault is ReentrancyGuardTransient, EIP712 {
    using SafeERC20 for IERC20;

    address public immutable GATEWAY;
    IWETH public immutable WETH;

    uint8 public constant FUNDING_MINT = 1;
    uint8 public constant FUNDING_VAULT = 2;
    uint8 public constant FUNDING_FEES = 3;
    /// @notice EIP-712 type an earner signs to have its claim paid to `recipient` by anyone.
    bytes32 public constant CUMULATIVE_CLAIM_TYPEHASH =
        keccak256("CumulativeClaim(address earner,address recipient,uint256 nonce,uint256 deadline)");

    /// @notice The VAULT source: reward deposits not yet paid out.
    mapping(address avs => mapping(address token => uint256)) public balanceOf;
    /// @notice The FEES source: transaction fees deposited and not yet paid out.
    mapping(address avs => mapping(address token => uint256)) public feeBalanceOf;

    /// @notice Latest accepted period and each accepted period's root (claims name the period).
    uint64 public latestPeriod;
    mapping(uint64 period => bytes32 root) public cumulativeRoot;
    mapping(address earner => mapping(address token => uint256)) public claimed;
    /// @notice Funding mode per token for cumulative rewards (0 = never funded), fixed at first sight.
    mapping(address token => uint8) public cumulativeFunding;
    /// @notice Funded and not yet paid, per token: the ceiling of cumulative payouts.
    mapping(address token => uint256) public cumulativeAvailable;
    /// @notice What each AVS owes in each token (the latest root's funded total) and what was drawn.
    mapping(address avs => mapping(address token => uint256)) public cumulativeTarget;
    mapping(address avs => mapping(address token => uint256)) public cumulativeDrawn;
    /// @notice Per earner, the nonce its next EIP-712 claim signature must carry.
    mapping(address earner => uint256) public claimNonces;

    event Deposited(address indexed avs, address indexed token, address indexed from, uint256 amount);
    event FeesDeposited(address indexed avs, address indexed token, address indexed from, uint256 amount);
    /// @param source FUNDING_VAULT or FUNDING_FEES: the balance the payment came out of.
    event Paid(address indexed avs, address indexed token, uint256 amount, uint256 recipients, uint8 source);

    event CumulativeRootAccepted(uint64 indexed period, bytes32 root, uint32 leafCount, uint64 nonce);
    event CumulativeRootIgnored(uint64 indexed period, uint64 latestPeriod, uint64 nonce);
    event CumulativeFunded(address indexed avs, address indexed token, uint256 amount, uint256 drawn, uint256 target);
    /// @param byEarner true for a claim the earner authorised (sender or signature), false for a push.
    event CumulativePaid(
        address indexed earner,
        address indexed token,
        address recipient,
        uint256 amount,
        uint256 cumulative,
        uint64 period,
        bool byEarner
    );

    error OnlyGateway(address caller);
    error InvalidCumulativeRoot();
    error InvalidFundingMode(uint8 funding);
    error FundingModeMismatch(address token, uint8 known, uint8 given);
    error UnknownPeriod(uint64 period);
    error InvalidMerkleProof();
    error EmptyBatch();
    error NotEarner(address earner, address caller);
    error NothingToClaim();
    error SignatureExpired(uint256 deadline);
    error InvalidClaimSignature();
    error GatewayPaused();
    error InsufficientDeposit(address avs, address token, uint256 requested, uint256 available);
    error ZeroAmount();
    error ZeroAddress();

    constructor(address gateway, IWETH weth) EIP712("ExorelayRewardVault", "1") {
        if (gateway == address(0) || address(weth) == address(0)) revert ZeroAddress();
        GATEWAY = gateway;
        WETH = weth;
    }

    modifier onlyGateway() {
        if (msg.sender != GATEWAY) revert OnlyGateway(msg.sender);
        _;
    }

    /// @notice Credit `avs` with `amount` of `token` pulled from the caller (which must approve).
    /// @return credited what actually arrived (fee-on-transfer tokens credit less).
    function deposit(address avs, address token, uint256 amount) external nonReentrant returns (uint256 credited) {
        if (amount == 0) revert ZeroAmount();
        if (avs == address(0)) revert ZeroAddress();
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        credited = IERC20(token).balanceOf(address(this)) - before;
        balanceOf[avs][token] += credited;
        emit Deposited(avs, token, msg.sender, credited);
    }

    /// @notice Credit `avs`'s FEES source with `amount` of `token` (transaction fees it collected on
    /// L1) pulled from the caller (which must approve). Kept apart from `deposit`'s balance.
    /// @return credited what actually arrived (fee-on-transfer tokens credit less).
    function depositFees(address avs, address token, uint256 amount) external nonReentrant returns (uint256 credited) {
        if (amount == 0) revert ZeroAmount();
        if (avs == address(0)) revert ZeroAddress();
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        credited = IERC20(token).balanceOf(address(this)) - before;
        feeBalanceOf[avs][token] += credited;
        emit FeesDeposited(avs, token, msg.sender, credited);
    }

    /// @notice Credit `avs` with the ETH sent, held as WETH.
    function depositETH(address avs) external payable nonReentrant {
        if (msg.value == 0) revert ZeroAmount();
        if (avs == address(0)) revert ZeroAddress();
        WETH.deposit{value: msg.value}();
        balanceOf[avs][address(WETH)] += msg.value;
        emit Deposited(avs, address(WETH), msg.sender, msg.value);
    }

    /// @notice Pay one recipient from `avs`'s `source` balance (VAULT or FEES) of `token`.
    function pay(address avs, address token, uint8 source, address to, uint256 amount)
        external
        onlyGateway
        nonReentrant
    {
        _debit(avs, token, source, amount);
        IERC20(token).safeTransfer(to, amount);
        emit Paid(avs, token, amount, 1, source);
    }

    /// @notice Pay every leaf's staker its amount from `avs`'s `source` balance of `token`, except the leaves
    /// whose batch position i has bit (i % 256) of `skipped[i / 256]` set (the gateway skips leaves
    /// already paid; an empty `skipped` skips none).
    function payBatch(address avs, address token, uint8 source, Leaf[] calldata leaves, uint256[] calldata skipped)
        external
        onlyGateway
        nonReentrant
    {
        uint256 count = leaves.length;
        bool skipping = skipped.length != 0;
        uint256 sum = 0;
        uint256 recipients = 0;
        for (uint256 i = 0; i < count; ++i) {
            if (skipping && (skipped[i >> 8] >> (i & 0xff)) & 1 != 0) continue;
            sum += leaves[i].amount;
            ++recipients;
        }
        _debit(avs, token, source, sum);
        for (uint256 i = 0; i < count; ++i) {
            if (skipping && (skipped[i >> 8] >> (i & 0xff)) & 1 != 0) continue;
            IERC20(token).safeTransfer(leaves[i].staker, leaves[i].amount);
        }
        emit Paid(avs, token, sum, recipients, source);
    }

    // ------------------------------------------------------------------ cumulative rewards

    modifier whenGatewayNotPaused() {
        if (IGatewayPausable(GATEWAY).paused()) revert GatewayPaused();
        _;
    }

    /// @notice Record a CUMULATIVE_ROOT packet the gateway has verified (payload as signed:
    /// period, root, leafCount, avss[], tokens[], fundings[], funded[]) and draw its funding.
    function acceptCumulativeRoot(uint64 nonce, bytes calldata payload) external onlyGateway nonReentrant {
        (
            uint64 period,
            bytes32 root,
            uint32 leafCount,
            address[] memory avss,
            address[] memory tokens,
            uint8[] memory fundings,
            uint256[] memory funded
        ) = abi.decode(payload, (uint64, bytes32, uint32, address[], address[], uint8[], uint256[]));
        uint256 entries = avss.length;
        if (
            period == 0 || root == bytes32(0) || leafCount == 0 || entries == 0 || tokens.length != entries
                || fundings.length != entries || funded.length != entries
        ) revert InvalidCumulativeRoot();
        uint64 latest = latestPeriod;
        if (period <= latest) {
            // Late older root: everything it grants, the newer one already granted.
            emit CumulativeRootIgnored(period, latest, nonce);
            return;
        }
        latestPeriod = period;
        cumulativeRoot[period] = root;
        for (uint256 i = 0; i < entries; ++i) {
            _setCumulativeTarget(avss[i], tokens[i], fundings[i], funded[i]);
        }
        emit CumulativeRootAccepted(period, root, leafCount, nonce);
    }

    /// @notice Draw what `avs` still owes for cumulative rewards in `token` from its balance here
    /// (after it deposited more). Anyone may call; it only moves funds the signed roots granted.
    function drawCumulative(address avs, address token) external nonReentrant {
        _drawCumulative(avs, token);
    }

    /// @notice Pay each leaf's earner (to the earner itself) what its cumulative amount exceeds
    /// what it was already paid. Anyone may call: the relayer's batched push. Leaves already paid
    /// or whose token is short of funding are skipped, so a front-run claim never reverts a batch.
    function pushCumulative(
        uint64 period,
        CumulativeLeaf[] calldata leaves,
        bytes32[] calldata proof,
        bool[] calldata proofFlags
    ) external nonReentrant whenGatewayNotPaused returns (uint256 paidLeaves) {
        _verifyCumulative(period, leaves, proof, proofFlags);
        for (uint256 i = 0; i < leaves.length; ++i) {
            if (_payCumulative(leaves[i], leaves[i].earner, period, false) != 0) ++paidLeaves;
        }
    }

    /// @notice The caller claims its own leaves (several tokens at once) and names who receives
    /// them (zero: the caller). Reverts NothingToClaim if every leaf was already paid.
    function claimCumulative(
        uint64 period,
        CumulativeLeaf[] calldata leaves,
        bytes32[] calldata proof,
        bool[] calldata proofFlags,
        address recipient
    ) external nonReentrant whenGatewayNotPaused returns (uint256 total) {
        total = _claimAs(msg.sender, period, leaves, proof, proofFlags, recipient);
    }

    /// @notice Anyone submits an earner's claim to a recipient the earner signed for (EIP-712
    /// CumulativeClaim with the earner's next nonce and a deadline); the earner is leaves[0].earner.
    function claimCumulativeWithSig(
        uint64 period,
        CumulativeLeaf[] calldata leaves,
        bytes32[] calldata proof,
        bool[] calldata proofFlags,
        address recipient,
        uint256 deadline,
        bytes calldata signature
    ) external nonReentrant whenGatewayNotPaused returns (uint256 total) {
        if (leaves.length == 0) revert EmptyBatch();
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        address earner = leaves[0].earner;
        uint256 nonce = claimNonces[earner]++;
        bytes32 digest =
            _hashTypedDataV4(keccak256(abi.encode(CUMULATIVE_CLAIM_TYPEHASH, earner, recipient, nonce, deadline)));
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != earner) revert InvalidClaimSignature();
        total = _claimAs(earner, period, leaves, proof, proofFlags, recipient);
    }

    /// @notice Still claimable by `earner` in `token` if its cumulative amount is `cumulative`.
    function claimableCumulative(address earner, address token, uint256 cumulative)
        external
        view
        returns (uint256)
    {
        uint256 done = claimed[earner][token];
        return cumulative > done ? cumulative - done : 0;
    }

    /// @notice The EIP-712 domain separator of claim signatures.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _claimAs(
        address earner,
        uint64 period,
        CumulativeLeaf[] calldata leaves,
        bytes32[] calldata proof,
        bool[] calldata proofFlags,
        address recipient
    ) private returns (uint256 total) {
        _verifyCumulative(period, leaves, proof, proofFlags);
        address to = recipient == address(0) ? earner : recipient;
        for (uint256 i = 0; i < leaves.length; ++i) {
            if (leaves[i].earner != earner) revert NotEarner(leaves[i].earner, earner);
            total += _payCumulative(leaves[i], to, period, true);
        }
        if (total == 0) revert NothingToClaim();
    }

    function _verifyCumulative(
        uint64 period,
        CumulativeLeaf[] calldata leaves,
        bytes32[] calldata proof,
        bool[] calldata proofFlags
    ) private view {
        uint256 count = leaves.length;
        if (count == 0) revert EmptyBatch();
        bytes32 root = cumulativeRoot[period];
        if (root == bytes32(0)) revert UnknownPeriod(period);
        bytes32[] memory hashes = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            CumulativeLeaf calldata leaf = leaves[i];
            bytes32 hash;
            assembly ("memory-safe") {
                let m := mload(0x40)
                calldatacopy(m, leaf, 96)
                mstore(0x00, keccak256(m, 96))
                hash := keccak256(0x00, 0x20)
            }
            hashes[i] = hash;
        }
        if (!MerkleProof.multiProofVerifyCalldata(proof, proofFlags, root, hashes)) revert InvalidMerkleProof();
    }

    /// @dev Pays cumulative - claimed to `to`, or nothing (skip) if already paid or underfunded.
    function _payCumulative(CumulativeLeaf calldata leaf, address to, uint64 period, bool byEarner)
        private
        returns (uint256 amount)
    {
        address earner = leaf.earner;
        address token = leaf.token;
        uint256 cumulative = leaf.cumulative;
        uint256 done = claimed[earner][token];
        if (cumulative <= done) return 0;
        amount = cumulative - done;
        uint256 available = cumulativeAvailable[token];
        if (amount > available) return 0;
        claimed[earner][token] = cumulative;
        unchecked {
            cumulativeAvailable[token] = available - amount;
        }
        if (cumulativeFunding[token] == FUNDING_MINT) {
            IRewardMintable(token).mint(to, amount);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
        emit CumulativePaid(earner, token, to, amount, cumulative, period, byEarner);
    }

    function _setCumulativeTarget(address avs, address token, uint8 funding, uint256 target) private {
        if (funding != FUNDING_MINT && funding != FUNDING_VAULT) revert InvalidFundingMode(funding);
        uint8 known = cumulativeFunding[token];
        if (known == 0) cumulativeFunding[token] = funding;
        else if (known != funding) revert FundingModeMismatch(token, known, funding);
        // Targets only grow: a lower one (never signed by an honest chain) changes nothing.
        if (target <= cumulativeTarget[avs][token]) return;
        cumulativeTarget[avs][token] = target;
        _drawCumulative(avs, token);
    }

    /// @dev Moves what `avs` owes in `token` into cumulativeAvailable: VAULT as far as its balance
    /// here allows (the rest on a later root or drawCumulative), MINT all of it (minted on payout).
    function _drawCumulative(address avs, address token) private {
        uint256 drawn = cumulativeDrawn[avs][token];
        uint256 target = cumulativeTarget[avs][token];
        if (target <= drawn) return;
        uint256 amount = target - drawn;
        if (cumulativeFunding[token] == FUNDING_VAULT) {
            uint256 balance = balanceOf[avs][token];
            if (amount > balance) amount = balance;
            if (amount == 0) return;
            unchecked {
                balanceOf[avs][token] = balance - amount;
            }
        }
        drawn += amount;
        cumulativeDrawn[avs][token] = drawn;
        cumulativeAvailable[token] += amount;
        emit CumulativeFunded(avs, token, amount, drawn, target);
    }

    function _debit(address avs, address token, uint8 source, uint256 amount) private {
        if (source != FUNDING_VAULT && source != FUNDING_FEES) revert InvalidFundingMode(source);
        mapping(address avs => mapping(address token => uint256)) storage balances =
            source == FUNDING_VAULT ? balanceOf : feeBalanceOf;
        uint256 available = balances[avs][token];
        if (amount > available) revert InsufficientDeposit(avs, token, amount, available);
        unchecked {
            balances[avs][token] = available - amount;
        }
    }
}
