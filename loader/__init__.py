"""An incremental loader whose rules live in numbered SQL files (see README.md)."""
