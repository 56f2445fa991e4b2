// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {BLS12381} from "../lib/BLS12381.sol";

/// @title BLS12381Harness
/// @notice Test-only: exposes the library's hash-to-curve for known-answer tests (RFC 9380 vectors
/// use their own DSTs). Never deployed outside tests.
contract BLS12381Harness {
    function expandMessageXmd(bytes calldata message, bytes calldata dst) external view returns (bytes memory) {
        return BLS12381.expandMessageXmd(message, dst);
    }

    function hashToG2(bytes calldata message, bytes calldata dst) external view returns (bytes memory) {
        return BLS12381.hashToG2(message, dst);
    }
}
