// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

import {IRewardMintable} from "./interfaces/IExorelay.sol";

/// @title RewardToken
/// @notice An inflation reward token: the gateway holds MINTER_ROLE (granted at deployment) and
/// mints distributions in the MINT funding mode.
/// @dev One admin (DEFAULT_ADMIN_ROLE), handed over in two steps (begin, then the new admin accepts
/// after ADMIN_TRANSFER_DELAY); renouncing is two-step and delayed too. The admin can grant and
/// revoke MINTER_ROLE: that is the token's only power over stakers (see contracts/README.md).
contract RewardToken is ERC20, AccessControlDefaultAdminRules, IRewardMintable {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    /// @notice Seconds between beginning an admin handover (or renouncement) and accepting it:
    /// long enough for holders to see a pending change, short enough for an emergency key rotation.
    uint48 public constant ADMIN_TRANSFER_DELAY = 2 days;

    constructor(string memory name_, string memory symbol_, address admin, address minter)
        ERC20(name_, symbol_)
        AccessControlDefaultAdminRules(ADMIN_TRANSFER_DELAY, admin)
    {
        if (minter != address(0)) _grantRole(MINTER_ROLE, minter);
    }

    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }
}
