"""Pictures: training curves, flow visualisations."""
