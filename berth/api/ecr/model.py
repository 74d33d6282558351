"""botocore's ECR service model (see `berth.api.awsjson.model`)."""

from __future__ import annotations

from berth.api.awsjson.model import JsonModel

ECR = JsonModel("ecr")
