"""Tests of the dashboard's code outside a browser: its JavaScript modules under Node."""
