"""Berth: a self-hosted container registry with the OCI Distribution and Amazon ECR APIs."""

__version__ = "0.1.0"

__all__ = ["__version__"]
