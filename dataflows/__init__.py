"""PayPulse."""
