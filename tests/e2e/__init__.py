"""Browser tests: Playwright driving Debian's Chromium against a real server, at 1280 and 390 px, with
screenshots under test-artifacts/."""
