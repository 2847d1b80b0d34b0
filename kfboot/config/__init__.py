"""Platform configuration: models, loading with source positions, the embedded default."""
