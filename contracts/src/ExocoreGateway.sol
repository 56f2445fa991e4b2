// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {BLS12381} from "./lib/BLS12381.sol";
import {Attestation, IRestakingVault, IRewardMintable, IRewardVault, Leaf} from "./interfaces/IExorelay.sol";

/// @title ExocoreGateway
/// @notice The L1 end of exorelay. It trusts one thing: the Exocore validator set it stores, which
/// it verifies itself (BLS12-381 aggregate signatures over EIP-2537) and which only the current set
/// can replace. Everything a relayer submits is checked here; a relayer can delay, never forge.
/// @dev Invariants:
/// - Every set ever installed stays known with the packet-nonce range it was current for:
///   [nonce of the VALSET_UPDATE that installed it (genesis: 0), nonce of the one that retired it).
///   A distribution or slash signed by set v is accepted iff v is known and its nonce lies in v's
///   range, so the order in which packets are delivered never orphans a validly signed packet.
/// - Only the current set signs a VALSET_UPDATE; valset nonces strictly increase.
/// - Every packet nonce is consumed once (one bitmap for all kinds).
/// - Every installed key is a G1 point in the prime-order subgroup (one G1MSM over all keys).
/// Validator-set storage: the ordered set lives in an SSTORE2-style data contract (immutable
/// code, read with EXTCODECOPY). Storage holds one slot per set {pointer, size, start, end} (the
/// only slot a packet reads) and its commitment. Data contract code layout (byte offsets):
///   [0]                 0x00 (STOP: the contract cannot be called)
///   [1, 129)            aggregate public key Σ pk_i (EIP-2537 G1)
///   [129, 161)          total power (uint256)
///   [161 + 128 i, +128) member i: power[0:16] ‖ x(48) ‖ power[16:32] ‖ y(48)
/// A member record copied to memory is therefore an EIP-2537 G1 point whose two 16-byte padding
/// areas hold the member's power; one EXTCODECOPY loads both and two masks restore the padding.
/// Verification adds whichever is fewer: the signers' keys, or the non-signers' negated keys to the
/// stored aggregate. So a packet costs at most n/2 G1ADDs and ~0 at full participation.
contract ExocoreGateway is Ownable2Step, Pausable, ReentrancyGuardTransient {
    // ------------------------------------------------------------------ constants

    bytes32 public constant DOMAIN = keccak256("EXORELAY_PACKET_V1");
    /// @notice Hash-to-curve DST of the Ethereum BLS min-pubkey proof-of-possession ciphersuite.
    bytes public constant BLS_DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

    uint8 public constant KIND_VALSET_UPDATE = 1;
    uint8 public constant KIND_REWARD_DISTRIBUTION = 2;
    uint8 public constant KIND_SLASH = 3;
    uint8 public constant KIND_WITHDRAWAL_APPROVAL = 4;
    uint8 public constant KIND_CUMULATIVE_ROOT = 5;

    uint8 public constant FUNDING_MINT = 1;
    uint8 public constant FUNDING_VAULT = 2;
    /// @notice Paid from the AVS's transaction fees held by the reward vault (its FEES source).
    uint8 public constant FUNDING_FEES = 3;

    /// @dev EIP-170 code size limit bounds the data contract: 1 + 160 + 128 n <= 24576.
    uint256 public constant MAX_VALIDATORS = 190;

    uint256 private constant HEADER_BYTES = 161;
    uint256 private constant RECORD_BYTES = 128;
    /// @dev One G1MSM input pair: EIP-2537 G1 point (128 B) and a 32-byte scalar.
    uint256 private constant MSM_PAIR_BYTES = 160;
    uint256 private constant MASK_128 = 0xffffffffffffffffffffffffffffffff;
    /// @dev Byte k (from the most significant) = j for the j with 2^j mod 11 == k, j = 0..7.
    uint256 private constant LOG2_MOD_11 = 0x0000010002040007030605000000000000000000000000000000000000000000;
    /// @dev BLS12-381 base field modulus p as high 16 bytes and low 32 bytes (for negating y).
    uint256 private constant P_HI = 0x1a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 private constant P_LO = 0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;

    // ------------------------------------------------------------------ types

    /// @dev One storage slot per set ever installed: the only slot a packet reads to find its
    /// signers. Nonces of the range are uint40 (a VALSET_UPDATE carrying a larger packet nonce is
    /// refused; Exocore numbers packets from 1, so 2^40 is out of reach).
    struct Valset {
        address pointer;
        uint16 size;
        /// Packet nonce of the VALSET_UPDATE that installed the set (genesis: 0), inclusive.
        uint40 startNonce;
        /// Packet nonce of the VALSET_UPDATE that retired it, exclusive; 0 while it is current.
        uint40 endNonce;
    }

    /// @dev Four slots. total/paid are uint128 (checked at submission) so they share a slot that
    /// every payout reads and writes once.
    struct Distribution {
        bytes32 root;
        address token;
        uint32 leafCount;
        uint8 funding;
        address avs;
        uint64 epoch;
        uint128 total;
        uint128 paid;
    }

    enum AttestationStatus {
        Valid,
        InvalidSignerBitmap,
        InsufficientQuorum,
        InvalidSignature
    }

    // ------------------------------------------------------------------ storage

    bytes32 public immutable EXOCORE_CHAIN;
    IRewardVault public immutable REWARD_VAULT;
    IRestakingVault public immutable RESTAKING_VAULT;

    /// @dev valset nonce => its record; a zero pointer means "never installed".
    mapping(uint64 valsetNonce => Valset) private _valsets;
    mapping(uint64 valsetNonce => bytes32 commitment) private _commitments;
    /// @dev guardian and the current valset nonce share one slot (neither is read per packet).
    address public guardian;
    uint64 private _currentValsetNonce;

    /// @dev Packet nonces, one bit each (all kinds share the bitmap).
    mapping(uint256 word => uint256 bits) private _usedNonces;
    mapping(bytes32 distributionId => Distribution) private _distributions;
    /// @dev Paid leaf indices per distribution, one bit each.
    mapping(bytes32 distributionId => mapping(uint256 word => uint256 bits)) private _paidLeaves;

    // ------------------------------------------------------------------ events

    event ValsetUpdated(uint64 indexed valsetNonce, bytes32 commitment, uint256 totalPower);
    event DistributionSubmitted(
        bytes32 indexed distributionId,
        bytes32 indexed claimId,
        address indexed avs,
        uint64 epoch,
        address token,
        uint256 total,
        bytes32 root,
        uint64 nonce
    );
    event RewardPaid(bytes32 indexed distributionId, uint256 index, address indexed staker, uint256 amount);
    event SlashExecuted(
        bytes32 indexed slashId,
        address indexed operator,
        address indexed avs,
        address[] tokens,
        uint256[] amounts,
        bool freeze,
        uint64 nonce
    );
    event WithdrawalApprovalSubmitted(
        bytes32 indexed approvalId, address indexed token, uint64 epoch, uint256 total, bytes32 root, uint64 nonce
    );
    event GuardianChanged(address indexed previousGuardian, address indexed newGuardian);

    // ------------------------------------------------------------------ errors

    error StaleValset(uint64 current, uint64 provided);
    error UnknownValset(uint64 valsetNonce);
    error NonceOutsideValsetRange(uint64 valsetNonce, uint64 nonce, uint64 startNonce, uint64 endNonce);
    error PacketNonceTooLarge(uint64 nonce);
    error PublicKeyNotInSubgroup(uint256 index);
    error RenounceWhilePaused();
    error NonceAlreadyUsed(uint64 nonce);
    error InvalidSignerBitmap();
    error InsufficientQuorum(uint256 signedPower, uint256 totalPower);
    error InvalidSignature();
    error ValsetNonceNotIncreasing(uint64 current, uint64 proposed);
    error InvalidValsetSize(uint256 size);
    error ValsetLengthMismatch(uint256 pubkeys, uint256 powers);
    error InvalidPublicKey(uint256 index);
    error InvalidPower(uint256 index);
    error AggregateKeyIsIdentity();
    error ValsetStorageFailed();
    error InvalidFundingMode(uint8 funding);
    error InvalidDistribution();
    error AmountTooLarge(uint256 amount);
    error UnknownDistribution(bytes32 distributionId);
    error EmptyBatch();
    error InvalidMerkleProof();
    error LeafIndexOutOfRange(uint256 index, uint32 leafCount);
    error LeafAlreadyPaid(uint256 index);
    error ExceedsTotal(uint256 paid, uint256 total);
    error SlashLengthMismatch(uint256 tokens, uint256 amounts);
    error UnauthorizedPauser(address caller);
    error VaultNotBound(address vault);
    error InvalidExocoreChain();
    error ValidatorIndexOutOfRange(uint256 index, uint256 size);

    // ------------------------------------------------------------------ construction

    /// @param genesisValsetNonce nonce of the genesis set; later sets must carry a higher one.
    /// @param genesisPubkeys ordered EIP-2537 G1 keys (128 bytes each) of the genesis set.
    /// @param genesisPowers their voting powers (positive).
    constructor(
        address owner_,
        address guardian_,
        bytes32 exocoreChain,
        IRewardVault rewardVault,
        IRestakingVault restakingVault,
        uint64 genesisValsetNonce,
        bytes[] memory genesisPubkeys,
        uint256[] memory genesisPowers
    ) Ownable(owner_) {
        if (exocoreChain == bytes32(0)) revert InvalidExocoreChain();
        // Vaults take the gateway address as an immutable; refusing a mismatch makes a deployment
        // that pays through a vault this gateway does not control impossible.
        if (rewardVault.GATEWAY() != address(this)) revert VaultNotBound(address(rewardVault));
        if (restakingVault.GATEWAY() != address(this)) revert VaultNotBound(address(restakingVault));
        EXOCORE_CHAIN = exocoreChain;
        REWARD_VAULT = rewardVault;
        RESTAKING_VAULT = restakingVault;
        guardian = guardian_;
        emit GuardianChanged(address(0), guardian_);
        _installValset(genesisValsetNonce, 0, genesisPubkeys, genesisPowers);
    }

    // ------------------------------------------------------------------ packets

    /// @notice Replace the validator set. Signed by the current set; the packet nonce is consumed
    /// like any other packet's, and the new set's nonce must be strictly higher (it may skip). The
    /// outgoing set stays known: packets it signed with nonces below this one are still accepted.
    function updateValset(uint64 valsetNonce, uint64 nonce, bytes calldata payload, Attestation calldata att)
        external
        whenNotPaused
    {
        _authorise(valsetNonce, KIND_VALSET_UPDATE, nonce, payload, att);
        (uint64 newValsetNonce, bytes[] memory pubkeys, uint256[] memory powers) =
            abi.decode(payload, (uint64, bytes[], uint256[]));
        if (newValsetNonce <= valsetNonce) revert ValsetNonceNotIncreasing(valsetNonce, newValsetNonce);
        _valsets[valsetNonce].endNonce = uint40(nonce); // range-checked in _authorise
        _installValset(newValsetNonce, uint40(nonce), pubkeys, powers);
    }

    /// @notice Record a reward distribution (Merkle root of its leaves) signed by the current set.
    function submitDistribution(uint64 valsetNonce, uint64 nonce, bytes calldata payload, Attestation calldata att)
        external
        whenNotPaused
        returns (bytes32 distributionId)
    {
        _authorise(valsetNonce, KIND_REWARD_DISTRIBUTION, nonce, payload, att);
        (
            bytes32 claimId,
            address avs,
            uint64 epoch,
            address token,
            uint8 funding,
            uint256 total,
            uint32 leafCount,
            bytes32 root
        ) = abi.decode(payload, (bytes32, address, uint64, address, uint8, uint256, uint32, bytes32));
        if (funding == 0 || funding > FUNDING_FEES) revert InvalidFundingMode(funding);
        if (token == address(0) || leafCount == 0 || root == bytes32(0)) revert InvalidDistribution();
        if (total > type(uint128).max) revert AmountTooLarge(total);
        distributionId = keccak256(abi.encode(EXOCORE_CHAIN, nonce));
        _distributions[distributionId] = Distribution({
            root: root,
            token: token,
            leafCount: leafCount,
            funding: funding,
            avs: avs,
            epoch: epoch,
            total: uint128(total),
            paid: 0
        });
        emit DistributionSubmitted(distributionId, claimId, avs, epoch, token, total, root, nonce);
    }

    /// @notice Authorise a period's cumulative reward root and hand it to the reward vault, which
    /// keeps the roots and the claims (the gateway stays a thin packet verifier).
    function submitCumulativeRoot(uint64 valsetNonce, uint64 nonce, bytes calldata payload, Attestation calldata att)
        external
        whenNotPaused
    {
        _authorise(valsetNonce, KIND_CUMULATIVE_ROOT, nonce, payload, att);
        REWARD_VAULT.acceptCumulativeRoot(nonce, payload);
    }

    /// @notice Hand a verified SLASH to the restaking vault: it moves each token's amount (or what
    /// custody holds, emitting the shortfall) to the slashing sink and records the freeze.
    function executeSlash(uint64 valsetNonce, uint64 nonce, bytes calldata payload, Attestation calldata att)
        external
        whenNotPaused
        nonReentrant
    {
        _authorise(valsetNonce, KIND_SLASH, nonce, payload, att);
        (
            bytes32 slashId,
            address operator,
            address avs,
            address[] memory tokens,
            uint256[] memory amounts,
            bool freeze
        ) = abi.decode(payload, (bytes32, address, address, address[], uint256[], bool));
        if (tokens.length != amounts.length) revert SlashLengthMismatch(tokens.length, amounts.length);
        RESTAKING_VAULT.slash(operator, avs, tokens, amounts, freeze);
        emit SlashExecuted(slashId, operator, avs, tokens, amounts, freeze, nonce);
    }

    /// @notice Hand a verified WITHDRAWAL_APPROVAL root to the restaking vault, which pays its leaves
    /// (id: keccak256(abi.encode(exocoreChain, nonce)), as a distribution's).
    function submitWithdrawalApproval(
        uint64 valsetNonce,
        uint64 nonce,
        bytes calldata payload,
        Attestation calldata att
    ) external whenNotPaused {
        _authorise(valsetNonce, KIND_WITHDRAWAL_APPROVAL, nonce, payload, att);
        (uint64 epoch, address token, uint256 total, uint32 leafCount, bytes32 root) =
            abi.decode(payload, (uint64, address, uint256, uint32, bytes32));
        bytes32 approvalId = keccak256(abi.encode(EXOCORE_CHAIN, nonce));
        RESTAKING_VAULT.registerApprovals(approvalId, token, epoch, total, leafCount, root);
        emit WithdrawalApprovalSubmitted(approvalId, token, epoch, total, root, nonce);
    }

    // ------------------------------------------------------------------ payouts

    /// @notice Pay a batch of leaves proven with one OZ multiproof. Anyone may call.
    /// @dev Leaves already paid (by a claim that landed first, or an earlier batch) are skipped
    /// without an event; the multiproof still covers them. So nobody can grief a batch by claiming
    /// one of its leaves just before it lands: the rest are paid, each leaf at most once.
    function payout(
        bytes32 distributionId,
        Leaf[] calldata leaves,
        bytes32[] calldata proof,
        bool[] calldata proofFlags
    ) external whenNotPaused nonReentrant {
        uint256 count = leaves.length;
        if (count == 0) revert EmptyBatch();
        Distribution storage dist = _distributions[distributionId];
        bytes32 root = dist.root;
        if (root == bytes32(0)) revert UnknownDistribution(distributionId);
        bytes32[] memory hashes = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            hashes[i] = _leafHash(leaves[i]);
        }
        if (!MerkleProof.multiProofVerifyCalldata(proof, proofFlags, root, hashes)) revert InvalidMerkleProof();
        uint32 leafCount = dist.leafCount;
        mapping(uint256 => uint256) storage words = _paidLeaves[distributionId];
        // Batch positions skipped as already paid, one bit each; allocated on the first skip only.
        uint256[] memory skipped;
        uint256 sum = 0;
        for (uint256 i = 0; i < count; ++i) {
            Leaf calldata leaf = leaves[i];
            uint256 index = leaf.index;
            if (index >= leafCount) revert LeafIndexOutOfRange(index, leafCount);
            uint256 bit = uint256(1) << (index & 0xff);
            uint256 bits = words[index >> 8];
            if (bits & bit != 0) {
                if (skipped.length == 0) skipped = new uint256[]((count + 255) >> 8);
                skipped[i >> 8] |= uint256(1) << (i & 0xff);
                continue;
            }
            words[index >> 8] = bits | bit;
            sum += leaf.amount; // checked: a batch summing past 2^256 reverts (Panic)
        }
        _settle(dist, sum);
        _pay(distributionId, dist, leaves, skipped);
    }

    /// @notice Pay one leaf with its Merkle proof. Anyone may call (the staker self-claims).
    function claim(bytes32 distributionId, Leaf calldata leaf, bytes32[] calldata proof)
        external
        whenNotPaused
        nonReentrant
    {
        Distribution storage dist = _distributions[distributionId];
        bytes32 root = dist.root;
        if (root == bytes32(0)) revert UnknownDistribution(distributionId);
        if (!MerkleProof.verifyCalldata(proof, root, _leafHash(leaf))) revert InvalidMerkleProof();
        _markPaid(distributionId, leaf.index, dist.leafCount);
        _settle(dist, leaf.amount);
        address token = dist.token;
        if (dist.funding == FUNDING_MINT) {
            IRewardMintable(token).mint(leaf.staker, leaf.amount);
        } else {
            REWARD_VAULT.pay(dist.avs, token, dist.funding, leaf.staker, leaf.amount);
        }
        emit RewardPaid(distributionId, leaf.index, leaf.staker, leaf.amount);
    }

    // ------------------------------------------------------------------ admin (no funds, no packets)

    function pause() external {
        if (msg.sender != owner() && msg.sender != guardian) revert UnauthorizedPauser(msg.sender);
        _pause();
    }

    function unpause() external onlyOwner {
        _unpause();
    }

    function setGuardian(address newGuardian) external onlyOwner {
        emit GuardianChanged(guardian, newGuardian);
        guardian = newGuardian;
    }

    /// @notice Give up ownership for good. Refused while paused (nobody could ever unpause), and it
    /// removes the guardian too (a guardian's pause could then never be lifted): afterwards nobody
    /// can pause, unpause or change the guardian, and packets and payouts run unattended.
    function renounceOwnership() public override onlyOwner {
        if (paused()) revert RenounceWhilePaused();
        if (guardian != address(0)) {
            emit GuardianChanged(guardian, address(0));
            guardian = address(0);
        }
        super.renounceOwnership();
    }

    // ------------------------------------------------------------------ views

    /// @notice The digest the validator set signs for a packet to this gateway.
    function packetDigest(uint64 valsetNonce, uint8 kind, uint64 nonce, bytes32 payloadHash)
        public
        view
        returns (bytes32)
    {
        return keccak256(
            abi.encode(DOMAIN, block.chainid, address(this), EXOCORE_CHAIN, valsetNonce, kind, nonce, payloadHash)
        );
    }

    /// @notice Whether `att` is a valid current-set attestation of `digest` (bitmap well-formed,
    /// power strictly > 2/3, aggregate signature verifies). Never reverts on bad input.
    function verifyAttestation(bytes32 digest, Attestation calldata att) external view returns (bool) {
        Valset memory vs = _valsets[_currentValsetNonce];
        (AttestationStatus status,,) = _checkAttestation(vs.pointer, vs.size, digest, att);
        return status == AttestationStatus.Valid;
    }

    /// @notice Detailed verdict of {verifyAttestation} with the signed and total power.
    function attestationStatus(bytes32 digest, Attestation calldata att)
        external
        view
        returns (AttestationStatus status, uint256 signedPower, uint256 totalPower)
    {
        Valset memory vs = _valsets[_currentValsetNonce];
        return _checkAttestation(vs.pointer, vs.size, digest, att);
    }

    function currentValsetNonce() external view returns (uint64) {
        return _currentValsetNonce;
    }

    /// @notice Commitment of the current set.
    function valsetCommitment() external view returns (bytes32) {
        return _commitments[_currentValsetNonce];
    }

    /// @notice Commitment of any set ever installed (zero if never installed); the relayer checks
    /// quorum against the set a packet was signed by, retired or current.
    function valsetCommitmentOf(uint64 valsetNonce) external view returns (bytes32) {
        return _commitments[valsetNonce];
    }

    /// @notice Where set `valsetNonce` lives and the packet nonces it may sign:
    /// [startNonce, endNonce), endNonce 0 while it is current. A zero pointer: never installed.
    function valsetRecord(uint64 valsetNonce)
        external
        view
        returns (address pointer, uint256 size, uint64 startNonce, uint64 endNonce)
    {
        Valset memory vs = _valsets[valsetNonce];
        return (vs.pointer, vs.size, vs.startNonce, vs.endNonce);
    }

    function valsetSize() external view returns (uint256) {
        return _valsets[_currentValsetNonce].size;
    }

    function valsetPointer() external view returns (address) {
        return _valsets[_currentValsetNonce].pointer;
    }

    function valsetTotalPower() external view returns (uint256 total) {
        address pointer = _valsets[_currentValsetNonce].pointer;
        assembly ("memory-safe") {
            extcodecopy(pointer, 0x00, 129, 32)
            total := mload(0x00)
        }
    }

    function valsetAggregateKey() external view returns (bytes memory key) {
        key = new bytes(128);
        address pointer = _valsets[_currentValsetNonce].pointer;
        assembly ("memory-safe") {
            extcodecopy(pointer, add(key, 0x20), 1, 128)
        }
    }

    /// @notice Member `index` of the current set: its EIP-2537 G1 key and power.
    function validator(uint256 index) external view returns (bytes memory pubkey, uint256 power) {
        Valset memory vs = _valsets[_currentValsetNonce];
        if (index >= vs.size) revert ValidatorIndexOutOfRange(index, vs.size);
        pubkey = new bytes(128);
        address pointer = vs.pointer;
        assembly ("memory-safe") {
            let dst := add(pubkey, 0x20)
            extcodecopy(pointer, dst, add(HEADER_BYTES, mul(index, RECORD_BYTES)), RECORD_BYTES)
            let hi := mload(dst)
            let lo := mload(add(dst, 0x40))
            power := or(shl(128, shr(128, hi)), shr(128, lo))
            mstore(dst, and(hi, MASK_128))
            mstore(add(dst, 0x40), and(lo, MASK_128))
        }
    }

    /// @notice Whether a SLASH froze `operator` for `avs` (recorded by the restaking vault, where it
    /// refuses new delegations to the operator).
    function frozen(address operator, address avs) external view returns (bool) {
        return RESTAKING_VAULT.frozen(operator, avs);
    }

    function nonceUsed(uint64 nonce) external view returns (bool) {
        return (_usedNonces[nonce >> 8] >> (nonce & 0xff)) & 1 == 1;
    }

    function distribution(bytes32 distributionId) external view returns (Distribution memory) {
        return _distributions[distributionId];
    }

    function isPaid(bytes32 distributionId, uint256 index) external view returns (bool) {
        return (_paidLeaves[distributionId][index >> 8] >> (index & 0xff)) & 1 == 1;
    }

    function distributionIdOf(uint64 nonce) external view returns (bytes32) {
        return keccak256(abi.encode(EXOCORE_CHAIN, nonce));
    }

    // ------------------------------------------------------------------ internals: packets

    function _authorise(
        uint64 valsetNonce_,
        uint8 kind,
        uint64 nonce,
        bytes calldata payload,
        Attestation calldata att
    ) private {
        Valset memory vs = _valsets[valsetNonce_];
        if (vs.pointer == address(0)) revert UnknownValset(valsetNonce_);
        if (kind == KIND_VALSET_UPDATE) {
            // Only the current set rotates, and only forward of the packet that installed it.
            if (vs.endNonce != 0) revert StaleValset(_currentValsetNonce, valsetNonce_);
            if (nonce <= vs.startNonce) {
                revert NonceOutsideValsetRange(valsetNonce_, nonce, vs.startNonce, vs.endNonce);
            }
            if (nonce > type(uint40).max) revert PacketNonceTooLarge(nonce);
        } else if (nonce < vs.startNonce || (vs.endNonce != 0 && nonce >= vs.endNonce)) {
            revert NonceOutsideValsetRange(valsetNonce_, nonce, vs.startNonce, vs.endNonce);
        }
        uint256 word = nonce >> 8;
        uint256 bit = uint256(1) << (nonce & 0xff);
        uint256 bits = _usedNonces[word];
        if (bits & bit != 0) revert NonceAlreadyUsed(nonce);
        _usedNonces[word] = bits | bit;
        bytes32 digest = packetDigest(valsetNonce_, kind, nonce, keccak256(payload));
        (AttestationStatus status, uint256 signedPower, uint256 totalPower) =
            _checkAttestation(vs.pointer, vs.size, digest, att);
        if (status == AttestationStatus.Valid) return;
        if (status == AttestationStatus.InvalidSignerBitmap) revert InvalidSignerBitmap();
        if (status == AttestationStatus.InsufficientQuorum) revert InsufficientQuorum(signedPower, totalPower);
        revert InvalidSignature();
    }

    /// @dev Bitmap shape, quorum, then one pairing check:
    /// e(aggPk, H(digest)) · e(-G1, sig) == 1.
    function _checkAttestation(address pointer, uint256 n, bytes32 digest, Attestation calldata att)
        private
        view
        returns (AttestationStatus status, uint256 signedPower, uint256 totalPower)
    {
        bytes calldata bitmap = att.signerBitmap;
        if (bitmap.length != (n + 7) >> 3) return (AttestationStatus.InvalidSignerBitmap, 0, 0);
        uint256 tailBits = n & 7;
        if (tailBits != 0 && uint8(bitmap[bitmap.length - 1]) >> tailBits != 0) {
            return (AttestationStatus.InvalidSignerBitmap, 0, 0);
        }
        uint256 signers = _popcount(bitmap);
        // Pairing buffer: [0,128) aggregate key, [128,256) G1 addend during aggregation then
        // [128,384) H(digest), [384,512) -G1, [512,768) signature.
        uint256 buf;
        assembly ("memory-safe") {
            buf := mload(0x40)
            mstore(0x40, add(buf, 768))
        }
        uint256 selectedPower;
        bool subtract = signers * 2 > n;
        (totalPower, selectedPower) = _aggregate(pointer, bitmap, n, subtract, buf);
        signedPower = subtract ? totalPower - selectedPower : selectedPower;
        if (!_meetsQuorum(signedPower, totalPower)) {
            return (AttestationStatus.InsufficientQuorum, signedPower, totalPower);
        }
        if (att.signature.length != BLS12381.G2_BYTES) {
            return (AttestationStatus.InvalidSignature, signedPower, totalPower);
        }
        bool ok;
        bytes calldata signature = att.signature;
        assembly ("memory-safe") {
            // An identity aggregate key would accept the identity signature: refuse both.
            ok := iszero(iszero(or(or(mload(buf), mload(add(buf, 0x20))), or(mload(add(buf, 0x40)), mload(add(buf, 0x60))))))
            calldatacopy(add(buf, 512), signature.offset, 256)
        }
        if (!ok) return (AttestationStatus.InvalidSignature, signedPower, totalPower);
        BLS12381.hashToG2Into(abi.encodePacked(digest), BLS_DST, buf + 128);
        BLS12381.writeNegG1Generator(buf + 384);
        assembly ("memory-safe") {
            // Yul evaluates arguments right to left: call first, then read its output.
            ok := staticcall(gas(), 0x0f, buf, 768, 0x00, 0x20)
            ok := and(ok, eq(mload(0x00), 1))
        }
        status = ok ? AttestationStatus.Valid : AttestationStatus.InvalidSignature;
    }

    /// @dev Aggregate the selected members' keys into buf[0,128) and sum their power.
    /// subtract=false: selected = signers, summed from the identity (all-zero encoding).
    /// subtract=true: selected = non-signers, each negated key is added to the stored aggregate.
    /// Only set bits are visited: the lowest set bit of a byte is isolated (b & -b) and its position
    /// read from LOG2_MOD_11, a table indexed by (2^j mod 11), which is distinct for j = 0..7.
    function _aggregate(address pointer, bytes calldata bitmap, uint256 n, bool subtract, uint256 buf)
        private
        view
        returns (uint256 totalPower, uint256 selectedPower)
    {
        assembly ("memory-safe") {
            // Header: aggregate key into buf[0,128), total power into buf[128,160).
            extcodecopy(pointer, buf, 1, 160)
            totalPower := mload(add(buf, 128))
            mstore(add(buf, 128), 0) // buf[128,144) is the addend's first zero padding
            let flip := 0
            switch subtract
            case 0 {
                mstore(buf, 0)
                mstore(add(buf, 0x20), 0)
                mstore(add(buf, 0x40), 0)
                mstore(add(buf, 0x60), 0)
            }
            default { flip := 0xff }
            let addend := add(buf, 128)
            let lastByte := sub(bitmap.length, 1)
            // Bits of the last byte that name members (the rest are zero, checked by the caller).
            let lastMask := sub(shl(sub(n, shl(3, lastByte)), 1), 1)
            for { let b := 0 } iszero(gt(b, lastByte)) { b := add(b, 1) } {
                let bits := xor(byte(0, calldataload(add(bitmap.offset, b))), flip)
                if eq(b, lastByte) { bits := and(bits, lastMask) }
                let base := shl(3, b)
                for {} bits {} {
                    let low := and(bits, sub(0, bits))
                    bits := xor(bits, low)
                    let i := add(base, byte(mod(low, 11), LOG2_MOD_11))
                    extcodecopy(pointer, addend, add(HEADER_BYTES, shl(7, i)), RECORD_BYTES)
                    let hi := mload(addend)
                    let lo := mload(add(addend, 0x40))
                    selectedPower := add(selectedPower, or(and(hi, not(MASK_128)), shr(128, lo)))
                    mstore(addend, and(hi, MASK_128))
                    let yHi := and(lo, MASK_128)
                    if subtract {
                        // y := p - y over the 48-byte y split as yHi (16 B) ‖ yLo (32 B).
                        let yLo := mload(add(addend, 0x60))
                        mstore(add(addend, 0x60), sub(P_LO, yLo))
                        yHi := sub(sub(P_HI, yHi), lt(P_LO, yLo))
                    }
                    mstore(add(addend, 0x40), yHi)
                    if iszero(staticcall(gas(), 0x0b, buf, 256, buf, 128)) { revert(0, 0) }
                }
            }
        }
    }

    /// @dev signed * 3 > total * 2 without overflow: equivalent to signed > 2 (total - signed).
    function _meetsQuorum(uint256 signedPower, uint256 totalPower) private pure returns (bool) {
        uint256 missing = totalPower - signedPower;
        return missing < (uint256(1) << 255) && signedPower > missing * 2;
    }

    function _popcount(bytes calldata data) private pure returns (uint256 count) {
        uint256 length = data.length;
        for (uint256 offset = 0; offset < length; offset += 32) {
            uint256 x;
            assembly ("memory-safe") {
                x := calldataload(add(data.offset, offset))
            }
            if (length - offset < 32) x &= ~(type(uint256).max >> ((length - offset) * 8));
            // SWAR popcount over 256 bits.
            x = x - ((x >> 1) & 0x5555555555555555555555555555555555555555555555555555555555555555);
            x = (x & 0x3333333333333333333333333333333333333333333333333333333333333333)
                + ((x >> 2) & 0x3333333333333333333333333333333333333333333333333333333333333333);
            x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f;
            unchecked {
                count += (x * 0x0101010101010101010101010101010101010101010101010101010101010101) >> 248;
            }
        }
    }

    // ------------------------------------------------------------------ internals: valset storage

    /// @dev Writes the data contract and the set's record. The aggregate key is one G1MSM over all
    /// keys with scalar 1: EIP-2537 MSM checks every input's encoding, curve and prime-order
    /// subgroup membership, so the aggregate and the subgroup check cost one precompile call
    /// (cheaper than G1ADD aggregation plus a one-point MSM per key; figures in contracts/README.md).
    function _installValset(uint64 newNonce, uint40 startNonce, bytes[] memory pubkeys, uint256[] memory powers)
        private
    {
        uint256 n = pubkeys.length;
        if (n == 0 || n > MAX_VALIDATORS) revert InvalidValsetSize(n);
        if (powers.length != n) revert ValsetLengthMismatch(n, powers.length);
        uint256 runtimeLength = HEADER_BYTES + n * RECORD_BYTES;
        // SSTORE2 init code: PUSH2 len, DUP1, PUSH1 10, RETURNDATASIZE, CODECOPY, RETURNDATASIZE, RETURN.
        bytes memory code = new bytes(10 + runtimeLength);
        uint256 totalPower = 0;
        assembly ("memory-safe") {
            let c := add(code, 0x20)
            mstore(c, or(shl(248, 0x61), or(shl(232, runtimeLength), shl(176, 0x80600a3d393df3))))
            // c[10] = 0x00 is already zero (STOP). Header at c + 11, records at c + 10 + HEADER_BYTES.
        }
        // MSM input: n pairs (key 128 B, scalar 32 B = 1); output (the aggregate) at acc.
        uint256 msm;
        uint256 acc;
        assembly ("memory-safe") {
            msm := mload(0x40)
            acc := add(msm, mul(n, MSM_PAIR_BYTES))
            mstore(0x40, add(acc, 128))
        }
        for (uint256 i = 0; i < n; ++i) {
            bytes memory key = pubkeys[i];
            uint256 power = powers[i];
            if (key.length != BLS12381.G1_BYTES) revert InvalidPublicKey(i);
            if (power == 0) revert InvalidPower(i);
            unchecked {
                if (totalPower + power < totalPower) revert InvalidPower(i);
                totalPower += power;
            }
            bool ok;
            assembly ("memory-safe") {
                let k := add(key, 0x20)
                let x0 := mload(k)
                let x1 := mload(add(k, 0x20))
                let y0 := mload(add(k, 0x40))
                let y1 := mload(add(k, 0x60))
                // The identity (all zero) is not a key.
                ok := iszero(iszero(or(or(x0, x1), or(y0, y1))))
                let pair := add(msm, mul(i, MSM_PAIR_BYTES))
                mcopy(pair, k, 128)
                mstore(add(pair, 128), 1)
                // Record: power[0:16] ‖ x ‖ power[16:32] ‖ y, i.e. the padded key with the power
                // in its two padding areas (padding is zero, checked by the MSM below).
                let r := add(add(code, 0x20), add(10, add(HEADER_BYTES, shl(7, i))))
                mstore(r, or(shl(128, shr(128, power)), x0))
                mstore(add(r, 0x20), x1)
                mstore(add(r, 0x40), or(shl(128, power), y0))
                mstore(add(r, 0x60), y1)
            }
            if (!ok) revert InvalidPublicKey(i);
        }
        bool msmOk;
        assembly ("memory-safe") {
            msmOk := staticcall(gas(), 0x0c, msm, mul(n, MSM_PAIR_BYTES), acc, 128)
        }
        if (!msmOk) _revertBadKey(pubkeys);
        bool nonIdentity;
        assembly ("memory-safe") {
            nonIdentity :=
                iszero(iszero(or(or(mload(acc), mload(add(acc, 0x20))), or(mload(add(acc, 0x40)), mload(add(acc, 0x60))))))
            let h := add(add(code, 0x20), 11)
            mcopy(h, acc, 128)
            mstore(add(h, 128), totalPower)
        }
        if (!nonIdentity) revert AggregateKeyIsIdentity();
        address pointer;
        assembly ("memory-safe") {
            pointer := create(0, add(code, 0x20), mload(code))
        }
        if (pointer == address(0)) revert ValsetStorageFailed();
        bytes32 commitment = keccak256(abi.encode(newNonce, pubkeys, powers));
        _valsets[newNonce] = Valset({pointer: pointer, size: uint16(n), startNonce: startNonce, endNonce: 0});
        _commitments[newNonce] = commitment;
        _currentValsetNonce = newNonce;
        emit ValsetUpdated(newNonce, commitment, totalPower);
    }

    /// @dev The MSM over all keys failed: name the first key that is malformed or off the curve
    /// (G1ADD with the identity refuses it) or outside the prime-order subgroup (a one-point MSM
    /// refuses it). Runs only on the failure path.
    function _revertBadKey(bytes[] memory pubkeys) private view {
        uint256 buf;
        assembly ("memory-safe") {
            buf := mload(0x40)
            mstore(0x40, add(buf, 288))
        }
        for (uint256 i = 0; i < pubkeys.length; ++i) {
            bytes memory key = pubkeys[i];
            bool onCurve;
            bool inSubgroup;
            assembly ("memory-safe") {
                mcopy(buf, add(key, 0x20), 128)
                mstore(add(buf, 128), 0)
                mstore(add(buf, 160), 0)
                mstore(add(buf, 192), 0)
                mstore(add(buf, 224), 0)
                onCurve := staticcall(gas(), 0x0b, buf, 256, add(buf, 128), 128)
                mcopy(buf, add(key, 0x20), 128)
                mstore(add(buf, 128), 1)
                inSubgroup := staticcall(gas(), 0x0c, buf, 160, add(buf, 160), 128)
            }
            if (!onCurve) revert InvalidPublicKey(i);
            if (!inSubgroup) revert PublicKeyNotInSubgroup(i);
        }
        revert InvalidPublicKey(pubkeys.length); // unreachable: some key made the MSM fail
    }

    // ------------------------------------------------------------------ internals: payouts

    /// @dev OZ StandardMerkleTree leaf: keccak256(bytes.concat(keccak256(abi.encode(index, staker, amount)))).
    function _leafHash(Leaf calldata leaf) private pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            calldatacopy(m, leaf, 96)
            mstore(0x00, keccak256(m, 96))
            hash := keccak256(0x00, 0x20)
        }
    }

    function _markPaid(bytes32 distributionId, uint256 index, uint32 leafCount) private {
        if (index >= leafCount) revert LeafIndexOutOfRange(index, leafCount);
        mapping(uint256 => uint256) storage words = _paidLeaves[distributionId];
        uint256 bit = uint256(1) << (index & 0xff);
        uint256 bits = words[index >> 8];
        if (bits & bit != 0) revert LeafAlreadyPaid(index);
        words[index >> 8] = bits | bit;
    }

    function _settle(Distribution storage dist, uint256 amount) private {
        uint256 paid = uint256(dist.paid) + amount;
        uint256 total = dist.total;
        if (paid > total) revert ExceedsTotal(paid, total);
        dist.paid = uint128(paid);
    }

    /// @dev Pays every leaf whose batch position is not set in `skipped` (empty: none skipped).
    function _pay(bytes32 distributionId, Distribution storage dist, Leaf[] calldata leaves, uint256[] memory skipped)
        private
    {
        address token = dist.token;
        uint256 count = leaves.length;
        bool skipping = skipped.length != 0;
        if (dist.funding == FUNDING_MINT) {
            for (uint256 i = 0; i < count; ++i) {
                if (skipping && (skipped[i >> 8] >> (i & 0xff)) & 1 != 0) continue;
                Leaf calldata leaf = leaves[i];
                IRewardMintable(token).mint(leaf.staker, leaf.amount);
                emit RewardPaid(distributionId, leaf.index, leaf.staker, leaf.amount);
            }
        } else {
            REWARD_VAULT.payBatch(dist.avs, token, dist.funding, leaves, skipped);
            for (uint256 i = 0; i < count; ++i) {
                if (skipping && (skipped[i >> 8] >> (i & 0xff)) & 1 != 0) continue;
                Leaf calldata leaf = leaves[i];
                emit RewardPaid(distributionId, leaf.index, leaf.staker, leaf.amount);
            }
        }
    }
}
