"""Sparse autoencoders: an offline corpus, SAE training and evaluation, and feature discovery for values."""
