"""The Chin Up service: samples in through the API, stored, counted into minutes, days and sessions, and
served back to the dashboard; `service.app.create_app` assembles it, `service.cli` runs it."""
