"""Data access: one small module per entity, returning domain objects, never PynamoDB records."""
