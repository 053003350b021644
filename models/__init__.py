"""Bundled model files (fastText): shipped as package data so installed workers (Dataflow) find them."""
