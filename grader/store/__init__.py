"""The gradebook: schema, records, migrations and the facade over SQLAlchemy."""
