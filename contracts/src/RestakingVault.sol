// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title RestakingVault
/// @notice Holds restaked principal per token. Stakers deposit and withdraw as in a plain vault;
/// the gateway (immutable) moves slashed amounts to the slashing sink (immutable).
/// @dev Per-staker slashing accounting lives on Exocore. Here a slash reduces the pooled principal
/// of a token only; withdrawals are limited by both the staker's deposit and the pool. Production
/// withdrawals authorised by Exocore are out of scope of this vault.
contract RestakingVault is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    address public immutable GATEWAY;
    address public immutable SLASHING_SINK;

    mapping(address token => uint256) public totalPrincipal;
    mapping(address staker => mapping(address token => uint256)) public principalOf;

    event Deposited(address indexed staker, address indexed token, uint256 amount);
    event Withdrawn(address indexed staker, address indexed token, uint256 amount);
    event Slashed(address indexed token, uint256 amount, address indexed sink);

    error OnlyGateway(address caller);
    error SlashExceedsBalance(address token, uint256 requested, uint256 available);
    error InsufficientPrincipal(address token, uint256 requested, uint256 available);
    error ZeroAmount();
    error ZeroAddress();

    constructor(address gateway, address slashingSink) {
        if (gateway == address(0) || slashingSink == address(0)) revert ZeroAddress();
        GATEWAY = gateway;
        SLASHING_SINK = slashingSink;
    }

    /// @return credited what actually arrived (fee-on-transfer tokens credit less).
    function deposit(address token, uint256 amount) external nonReentrant returns (uint256 credited) {
        if (amount == 0) revert ZeroAmount();
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        credited = IERC20(token).balanceOf(address(this)) - before;
        principalOf[msg.sender][token] += credited;
        totalPrincipal[token] += credited;
        emit Deposited(msg.sender, token, credited);
    }

    function withdraw(address token, uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 own = principalOf[msg.sender][token];
        if (amount > own) revert InsufficientPrincipal(token, amount, own);
        uint256 pool = totalPrincipal[token];
        if (amount > pool) revert InsufficientPrincipal(token, amount, pool);
        unchecked {
            principalOf[msg.sender][token] = own - amount;
            totalPrincipal[token] = pool - amount;
        }
        IERC20(token).safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, token, amount);
    }

    /// @notice Move `amount` of `token` principal to the slashing sink (gateway only).
    function slash(address token, uint256 amount) external nonReentrant {
        if (msg.sender != GATEWAY) revert OnlyGateway(msg.sender);
        uint256 pool = totalPrincipal[token];
        if (amount > pool) revert SlashExceedsBalance(token, amount, pool);
        unchecked {
            totalPrincipal[token] = pool - amount;
        }
        if (amount != 0) IERC20(token).safeTransfer(SLASHING_SINK, amount);
        emit Slashed(token, amount, SLASHING_SINK);
    }
}
