"""devnet.anvil: start on a free port, answer, derive the dev accounts, snapshot/revert, stop cleanly."""

from __future__ import annotations

import socket

import pytest

from devnet.anvil import AnvilConfig, AnvilError, AnvilNode, free_port
from devnet.l1_deploy import create_address


def test_anvil_lifecycle() -> None:
    node = AnvilNode(AnvilConfig(chain_id=4242, accounts=2))
    with node:
        assert int(node.rpc("eth_chainId"), 16) == 4242
        accounts = node.dev_accounts()
        # anvil's first well-known development account.
        assert accounts[0].address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        assert node.rpc("eth_accounts") == [a.address.lower() for a in accounts]
        snapshot = node.snapshot()
        node.rpc("evm_mine")
        assert int(node.rpc("eth_blockNumber"), 16) == 1
        node.revert(snapshot)
        assert int(node.rpc("eth_blockNumber"), 16) == 0
        with pytest.raises(AnvilError, match="eth_noSuchMethod"):
            node.rpc("eth_noSuchMethod")
        port = node.port
    assert not node.running
    node.stop()  # idempotent
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))  # nobody listens there any more


def test_anvil_refuses_a_taken_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
        sock.listen()
        taken = sock.getsockname()[1]
        with pytest.raises(AnvilError):
            AnvilNode(AnvilConfig(port=taken)).start()


def test_create_address_known_answers() -> None:
    deployer = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    # The addresses anvil gives the first contracts of its first account (nonce 0 and 1).
    assert create_address(deployer, 0) == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert create_address(deployer, 1) == "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
    assert create_address(deployer, 4) == "0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9"
