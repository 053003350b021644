"""One module per pipeline stage: a PTransform, its DoFns and the pure decisions they call."""
