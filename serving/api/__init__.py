"""The JSON API: thin routes per domain; each parses, calls a service and returns its schema (the
services' domain errors become their JSON answers in ``serving.errors``)."""
