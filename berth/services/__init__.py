"""Use cases, named after the ECR operations they implement; shared by every API."""
