"""Organizations (the practices and clinics the service works for) and their API keys."""
