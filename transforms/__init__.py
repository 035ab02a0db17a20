"""One module per pipeline stage, each a composite beam.PTransform."""
