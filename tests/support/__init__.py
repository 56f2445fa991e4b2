"""Helpers shared by the test directories, one module per concern.

Rule (enforced by ``tests/test_structure.py``): a test module imports shared code from here or from a
helper module in its own directory, never from another ``test_*.py``, a ``conftest.py`` or another
test directory.
"""
