// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IWETH, Leaf} from "./interfaces/IExorelay.sol";

/// @title RewardVault
/// @notice AVS-funded reward balances per (avs, token). Anyone may fund an AVS's balance; only the
/// gateway (an immutable set at deployment) can pay out of it, and never more than was deposited
/// for that AVS and token. ETH is held as WETH.
contract RewardVault is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    address public immutable GATEWAY;
    IWETH public immutable WETH;

    mapping(address avs => mapping(address token => uint256)) public balanceOf;

    event Deposited(address indexed avs, address indexed token, address indexed from, uint256 amount);
    event Paid(address indexed avs, address indexed token, uint256 amount, uint256 recipients);

    error OnlyGateway(address caller);
    error InsufficientDeposit(address avs, address token, uint256 requested, uint256 available);
    error ZeroAmount();
    error ZeroAddress();

    constructor(address gateway, IWETH weth) {
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

    /// @notice Credit `avs` with the ETH sent, held as WETH.
    function depositETH(address avs) external payable nonReentrant {
        if (msg.value == 0) revert ZeroAmount();
        if (avs == address(0)) revert ZeroAddress();
        WETH.deposit{value: msg.value}();
        balanceOf[avs][address(WETH)] += msg.value;
        emit Deposited(avs, address(WETH), msg.sender, msg.value);
    }

    /// @notice Pay one recipient from `avs`'s balance of `token`.
    function pay(address avs, address token, address to, uint256 amount) external onlyGateway nonReentrant {
        _debit(avs, token, amount);
        IERC20(token).safeTransfer(to, amount);
        emit Paid(avs, token, amount, 1);
    }

    /// @notice Pay every leaf's staker its amount from `avs`'s balance of `token`, except the leaves
    /// whose batch position i has bit (i % 256) of `skipped[i / 256]` set (the gateway skips leaves
    /// already paid; an empty `skipped` skips none).
    function payBatch(address avs, address token, Leaf[] calldata leaves, uint256[] calldata skipped)
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
        _debit(avs, token, sum);
        for (uint256 i = 0; i < count; ++i) {
            if (skipping && (skipped[i >> 8] >> (i & 0xff)) & 1 != 0) continue;
            IERC20(token).safeTransfer(leaves[i].staker, leaves[i].amount);
        }
        emit Paid(avs, token, sum, recipients);
    }

    function _debit(address avs, address token, uint256 amount) private {
        uint256 available = balanceOf[avs][token];
        if (amount > available) revert InsufficientDeposit(avs, token, amount, available);
        unchecked {
            balanceOf[avs][token] = available - amount;
        }
    }
}
