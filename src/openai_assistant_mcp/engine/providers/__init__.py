"""Model providers the run executor calls."""
