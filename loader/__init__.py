"""An incremental loader whose rules live in numbered SQL files (README.md, and docs/ for the reference)."""
