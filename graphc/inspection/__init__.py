"""Looking inside: pictures, the report page, gradient flow, the first guilty pass."""
