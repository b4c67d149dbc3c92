"""`chinup demo`: an embedded database, a demo user with generated history, and a live virtual strap
recorded through the real path."""
