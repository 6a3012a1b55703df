"""Differentially private synthesis: privacy accounting, a graphical-model estimator from noisy
marginals (Private-PGM), the AIM mechanism, and DP-SGD for the neural table models."""
