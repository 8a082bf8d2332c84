"""Finite-sum objectives and stochastic optimizers (SGD, Adam) with compiled epoch loops."""
