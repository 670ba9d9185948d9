"""Events the intake system must learn: written to an outbox in the same transaction as the change,
delivered to the organization's webhook (signed, retried, at least once) and readable as a feed."""
