"""The Amazon ECR control-plane API: AWS JSON 1.1 over `POST /`, driven by botocore's model."""
