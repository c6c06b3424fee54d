"""The benchmark, outside the package: it uses scalefree as a user would (python -m bench)."""
