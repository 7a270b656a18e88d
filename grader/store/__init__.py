"""The gradebook over SQLAlchemy: its schema, engine, migrations and the ``Gradebook`` facade."""
