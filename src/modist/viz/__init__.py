"""Plots written as PNG: training curves, confusion matrices, per-class accuracy, demo results.

Flow pictures (colour coding, frame | flow | edges panels) are in :mod:`modist.flow.color`
and :mod:`modist.flow.visualize`.
"""
