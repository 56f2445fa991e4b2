"""Benchmarks that print figures (run each as a script); a package so module names never clash."""
