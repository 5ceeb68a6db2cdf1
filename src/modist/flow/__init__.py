"""Optical flow estimation and motion encodings."""
