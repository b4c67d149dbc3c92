"""What the product advises from the journal and the heart: the seven-step recovery plan, nudges toward
the day's hour of heartbeat up, and stress around interviews."""
