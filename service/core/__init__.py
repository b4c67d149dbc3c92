"""What every stage stands on: the database engine and models, migrations, local time, logging and
password/token security. Nothing here knows about HTTP or the product's features."""
