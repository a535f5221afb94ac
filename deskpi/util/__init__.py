"""Plumbing shared by every layer, written once: atomic files, file locks, value checks."""
