"""Versioned prompt templates and the code that renders them."""
