"""Push notifications: the APNs provider API sender and the console sender for embedded mode."""
