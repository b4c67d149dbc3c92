"""Pure physiology: arrays and dataclasses in and out (sessions, zones, HRV, recovery, stress), no I/O,
no clock, no database, so every figure the service shows can be checked by a test on its own."""
