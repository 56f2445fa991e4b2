// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title BLS12-381 helpers over the EIP-2537 precompiles (Prague).
/// @notice Points are in EIP-2537 uncompressed form: G1 = 128 bytes (x ‖ y), G2 = 256 bytes
/// (x.c0 ‖ x.c1 ‖ y.c0 ‖ y.c1); every field element is a 64-byte big-endian word whose top 16 bytes
/// are zero. Nothing here decompresses points.
/// @dev Hash-to-G2 follows RFC 9380 `hash_to_curve` for BLS12381G2_XMD:SHA-256_SSWU_RO_ with any DST:
/// expand_message_xmd(SHA-256) to 256 bytes, four 64-byte chunks reduced mod p (MODEXP), two
/// MAP_FP2_TO_G2 (which include cofactor clearing) and one G2ADD. Clearing the cofactor of each map
/// output and adding equals clearing the cofactor of the sum, because cofactor clearing is a group
/// endomorphism.
library BLS12381 {
    uint256 internal constant G1ADD = 0x0b;
    uint256 internal constant G2ADD = 0x0d;
    uint256 internal constant PAIRING_CHECK = 0x0f;
    uint256 internal constant MAP_FP2_TO_G2 = 0x11;
    uint256 internal constant SHA256 = 0x02;
    uint256 internal constant MODEXP = 0x05;

    uint256 internal constant G1_BYTES = 128;
    uint256 internal constant G2_BYTES = 256;

    /// @dev Base field modulus p split as a 48-byte number: high 16 bytes and low 32 bytes.
    uint256 internal constant P_HI = 0x1a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 internal constant P_LO = 0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;

    /// @dev -G1 generator (y negated), split the same way.
    uint256 internal constant NEG_G1_X_HI = 0x17f1d3a73197d7942695638c4fa9ac0f;
    uint256 internal constant NEG_G1_X_LO = 0xc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb;
    uint256 internal constant NEG_G1_Y_HI = 0x114d1d6855d545a8aa7d76c8cf2e21f2;
    uint256 internal constant NEG_G1_Y_LO = 0x67816aef1db507c96655b9d5caac42364e6f38ba0ecb751bad54dcd6b939c2ca;

    /// @dev expand_message_xmd output length for hash_to_curve to G2: count 2 × m 2 × L 64.
    uint256 internal constant EXPANDED_BYTES = 256;
    /// @dev SHA-256 block output count for 256 bytes (ell = 256 / 32).
    uint256 internal constant XMD_BLOCKS = 8;

    error DstTooLong(uint256 length);
    /// @dev A precompile call failed: only possible on a chain without EIP-2537 (inputs here are valid).
    error HashToCurveFailed();

    /// @notice RFC 9380 expand_message_xmd with SHA-256, fixed output length 256 bytes.
    function expandMessageXmd(bytes memory message, bytes memory dst) internal view returns (bytes memory out) {
        uint256 dstLength = dst.length;
        if (dstLength > 255) revert DstTooLong(dstLength);
        bool ok = true;
        assembly ("memory-safe") {
            out := mload(0x40)
            mstore(out, EXPANDED_BYTES)
            let outData := add(out, 0x20)
            let buf := add(outData, EXPANDED_BYTES) // scratch past the output
            // msg' = Z_pad(64) ‖ msg ‖ I2OSP(256, 2) ‖ I2OSP(0, 1) ‖ DST ‖ I2OSP(len(DST), 1)
            mstore(buf, 0)
            mstore(add(buf, 0x20), 0)
            let messageLength := mload(message)
            mcopy(add(buf, 64), add(message, 0x20), messageLength)
            let tail := add(add(buf, 64), messageLength)
            mstore8(tail, 1)
            mstore8(add(tail, 1), 0)
            mstore8(add(tail, 2), 0)
            mcopy(add(tail, 3), add(dst, 0x20), dstLength)
            mstore8(add(add(tail, 3), dstLength), dstLength)
            ok := staticcall(gas(), SHA256, buf, add(add(64, messageLength), add(4, dstLength)), 0x00, 0x20)
            let b0 := mload(0x00)
            // b_i = H(strxor(b_0, b_(i-1)) ‖ I2OSP(i, 1) ‖ DST'), with b_1 = H(b_0 ‖ 1 ‖ DST').
            mcopy(add(buf, 33), add(dst, 0x20), dstLength)
            mstore8(add(add(buf, 33), dstLength), dstLength)
            let blockInputLength := add(34, dstLength)
            let previous := 0
            for { let i := 1 } iszero(gt(i, XMD_BLOCKS)) { i := add(i, 1) } {
                mstore(buf, xor(b0, previous))
                mstore8(add(buf, 0x20), i)
                let slot := add(outData, mul(sub(i, 1), 0x20))
                ok := and(ok, staticcall(gas(), SHA256, buf, blockInputLength, slot, 0x20))
                previous := mload(slot)
            }
            mstore(0x40, add(outData, EXPANDED_BYTES))
        }
        if (!ok) revert HashToCurveFailed();
    }

    /// @notice RFC 9380 hash_to_curve to G2 (random-oracle variant) with the given DST.
    /// @return point the hashed point, 256 bytes EIP-2537.
    function hashToG2(bytes memory message, bytes memory dst) internal view returns (bytes memory point) {
        point = new bytes(G2_BYTES);
        uint256 outPtr;
        assembly ("memory-safe") {
            outPtr := add(point, 0x20)
        }
        hashToG2Into(message, dst, outPtr);
    }

    /// @notice hash_to_curve to G2, writing the 256-byte point to memory at `outPtr`.
    function hashToG2Into(bytes memory message, bytes memory dst, uint256 outPtr) internal view {
        bytes memory uniform = expandMessageXmd(message, dst);
        bool ok = true;
        assembly ("memory-safe") {
            let free := mload(0x40)
            // Layout from `free`: [0, 512) the two mapped G2 points (G2ADD input), [512, 721) MODEXP input.
            let modexpIn := add(free, 512)
            mstore(modexpIn, 64) // base length: one 64-byte chunk
            mstore(add(modexpIn, 0x20), 1) // exponent length
            mstore(add(modexpIn, 0x40), 48) // modulus length
            mstore8(add(modexpIn, 160), 1) // exponent = 1: MODEXP reduces the base mod p
            mstore(add(modexpIn, 161), shl(128, P_HI))
            mstore(add(modexpIn, 177), P_LO)
            let chunks := add(uniform, 0x20)
            // Two Fp2 elements u0 = (c0, c1) from chunks 0, 1 and u1 from chunks 2, 3. Each reduced
            // element is a padded 64-byte Fp word; each pair feeds MAP_FP2_TO_G2 in place.
            let fp2In := add(free, 721)
            for { let j := 0 } lt(j, 2) { j := add(j, 1) } {
                for { let k := 0 } lt(k, 2) { k := add(k, 1) } {
                    let chunk := add(chunks, mul(add(mul(j, 2), k), 64))
                    mstore(add(modexpIn, 0x60), mload(chunk))
                    mstore(add(modexpIn, 0x80), mload(add(chunk, 0x20)))
                    let word := add(fp2In, mul(k, 64))
                    mstore(word, 0)
                    ok := and(ok, staticcall(gas(), MODEXP, modexpIn, 209, add(word, 16), 48))
                }
                ok := and(ok, staticcall(gas(), MAP_FP2_TO_G2, fp2In, 128, add(free, mul(j, 256)), 256))
            }
            ok := and(ok, staticcall(gas(), G2ADD, free, 512, outPtr, 256))
        }
        if (!ok) revert HashToCurveFailed();
    }

    /// @notice Write the negated G1 generator (128 bytes) at `ptr`.
    function writeNegG1Generator(uint256 ptr) internal pure {
        assembly ("memory-safe") {
            mstore(ptr, NEG_G1_X_HI)
            mstore(add(ptr, 0x20), NEG_G1_X_LO)
            mstore(add(ptr, 0x40), NEG_G1_Y_HI)
            mstore(add(ptr, 0x60), NEG_G1_Y_LO)
        }
    }
}
