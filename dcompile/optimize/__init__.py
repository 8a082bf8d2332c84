"""Optimizers that run inside compiled code, and their test problems."""
