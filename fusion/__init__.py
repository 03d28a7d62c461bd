"""Segmentation, selection, feathering and compositing. Importing this package never imports torch."""
