"""Training helpers: embedded data sets, input checks, and a small classifier loop."""

from .classifier import accuracy, check_trainable, fit_classifier
from .data import Dataset, check_batch, digits

__all__ = ["Dataset", "digits", "check_batch", "check_trainable", "fit_classifier", "accuracy"]
