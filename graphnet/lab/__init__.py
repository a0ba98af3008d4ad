"""Experiments: baselines, presets, sweeps, reports."""
